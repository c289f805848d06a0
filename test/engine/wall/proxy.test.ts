// The wall's model-API proxy: each session's socket forwards only requests carrying that session's token, with the server's real credentials in their place.
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelProxy, upstreamOf, type Upstream } from '../../../src/engine/wall/proxy.js';
import { useModelServer } from '../../support/fixture.js';

function post(socketPath: string, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string }>((done, fail) => {
    const req = request(
      { socketPath, path, method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => done({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', fail);
    req.end(
      JSON.stringify({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'proxy-check' }] }),
    );
  });
}

describe('ModelProxy', () => {
  const f = useModelServer();
  let proxy: ModelProxy;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cca-proxy-'));
    const upstream = upstreamOf(
      { ANTHROPIC_API_KEY: 'sk-real-upstream-key', ANTHROPIC_BASE_URL: f.model.url },
      'api_key',
    );
    proxy = new ModelProxy(join(dir, 'sockets'), upstream as Upstream, pino({ level: 'silent' }));
  });

  afterAll(async () => {
    await proxy?.closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it("forwards a session's request with the real key in place of its token", async () => {
    const a = await proxy.open('session-a');
    const res = await post(a.socket, '/v1/messages', { 'x-api-key': a.token });
    expect(res.status).toBe(200);
    const seen = f.model.requests.at(-1)!;
    expect(seen.path).toBe('/v1/messages');
    expect(seen.headers['x-api-key']).toBe('sk-real-upstream-key');
  });

  it("refuses a request without the token, with another session's token, or outside /v1/", async () => {
    const a = await proxy.open('session-a');
    const b = await proxy.open('session-b');
    const before = f.model.requests.length;
    expect((await post(a.socket, '/v1/messages', {})).status).toBe(401);
    expect((await post(a.socket, '/v1/messages', { 'x-api-key': b.token })).status).toBe(401);
    expect((await post(b.socket, '/v1/messages', { 'x-api-key': a.token })).status).toBe(401);
    expect((await post(a.socket, '/admin', { 'x-api-key': a.token })).status).toBe(404);
    expect(f.model.requests.length).toBe(before);
  });

  it('a closed session socket is gone, its token with it', async () => {
    const c = await proxy.open('session-c');
    await proxy.close('session-c');
    await expect(post(c.socket, '/v1/messages', { 'x-api-key': c.token })).rejects.toThrow(/ENOENT|ECONNREFUSED/);
  });

  it('says why credentials it cannot carry stay out of the wall', () => {
    expect(upstreamOf({}, 'bedrock')).toMatch(/kind bedrock/);
    expect(upstreamOf({}, 'none')).toMatch(/no credentials/);
    expect(upstreamOf({ CLAUDE_CODE_OAUTH_TOKEN: 'tok' }, 'oauth_token')).toMatchObject({
      headers: { authorization: 'Bearer tok', 'anthropic-beta': 'oauth-2025-04-20' },
    });
  });
});
