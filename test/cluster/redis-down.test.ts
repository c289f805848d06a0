// A node whose Redis goes away answers a request for a session's process with 503 cluster-unavailable, REST, compat and MCP alike (a private redis-server, killed mid-test).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCliEnv, type CliEnv } from '../support/cli-env.js';
import { needs, REDIS_SERVER_PATH } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';
import { apiOf, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { serverProcessEnv } from '../support/server-process.js';

const missing = await needs('the Redis outage test', 'postgresql', 'redis-server');
const KEY = 'redis-down-test-key-12345678';

/** A free TCP port on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

describe.skipIf(missing)('a node that lost Redis', { timeout: 120_000 }, () => {
  let redis: ChildProcess;
  let node: ServerProcess;
  let cli: CliEnv;
  let dir: string;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    const port = await freePort();
    redis = spawn(REDIS_SERVER_PATH, [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      redis.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      redis.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    });
    cli = makeCliEnv('http://127.0.0.1:9');
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cc-redis-down-')));
    mkdirSync(join(dir, 'ws'));
    db = await createTempDatabase('redis_down');
    node = await startServerProcess(
      dir,
      serverProcessEnv(cli, dir, KEY, {
        DATABASE_URL: db.url,
        REDIS_URL: `redis://127.0.0.1:${port}`,
        CLUSTER_ENABLED: 'true',
        NODE_ID: 'lonely',
        LOG_LEVEL: 'info',
      }),
    );
  });

  afterAll(async () => {
    if (node && node.child.exitCode === null) {
      node.child.kill('SIGTERM');
      await node.exited;
    }
    if (redis && redis.exitCode === null) redis.kill('SIGKILL');
    cli?.cleanup();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 cluster-unavailable with Retry-After, and runs nothing', async () => {
    const api = apiOf(node.url, KEY);
    expect((await api('/api/v1/sessions', { method: 'POST', json: { name: 'cut-off' } })).status).toBe(201);
    const gone = new Promise((resolve) => redis.once('exit', resolve));
    redis.kill('SIGKILL');
    await gone;
    const res = await api('/api/v1/sessions/cut-off/chat', { method: 'POST', json: { message: 'hello' } });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect((await res.json()).type).toBe('/problems/cluster-unavailable');
    const history = await api('/api/v1/sessions/cut-off/history');
    expect(history.status).toBe(200);
    expect((await history.json()).data).toEqual([]);

    // The compatible endpoints say so in their own error shape; a session opened for the request is not left behind.
    const messages = [{ role: 'user', content: 'hello' }];
    const named = await api('/v1/chat/completions', {
      method: 'POST',
      json: { model: 'sonnet', messages },
      headers: { 'x-session-name': 'cut-off' },
    });
    expect(named.status).toBe(503);
    expect(named.headers.get('retry-after')).toBe('5');
    expect(await named.json()).toMatchObject({ error: { type: 'server_error', code: 'cluster_unavailable' } });
    const implicit = await api('/v1/messages', { method: 'POST', json: { model: 'sonnet', max_tokens: 64, messages } });
    expect(implicit.status).toBe(503);
    expect(await implicit.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    const sessions = (await (await api('/api/v1/sessions')).json()).data as Array<{ name: string }>;
    expect(sessions.map((s) => s.name)).toEqual(['cut-off']);

    // The MCP chat tool answers it as its error.
    const transport = new StreamableHTTPClientTransport(new URL(`${node.url}/mcp`), {
      requestInit: { headers: { 'x-api-key': KEY } },
    });
    const client = new Client({ name: 'redis-down-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const result = (await client.callTool({
        name: 'chat',
        arguments: { name: 'cut-off', message: 'hello' },
      })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toMatchObject({
        problem: { status: 503, type: '/problems/cluster-unavailable' },
      });
    } finally {
      await client.close();
    }
  });
});
