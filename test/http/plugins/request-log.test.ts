// One log line per request, with request id and tenant, and no secrets (headers, query values, 500 messages stay out of bodies).
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loggableUrl } from '../../../src/http/plugins/request-log.js';
import { tenantOf } from '../../../src/security/api-keys.js';
import { shellApp } from '../../support/shell-app.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('request log', () => {
  it('writes exactly one line per request with method, url, status, duration, request id, tenant', async () => {
    const { lines, stream } = capture();
    const app = await shellApp({ apiKeys: ['log-key-123'] }, { logger: { level: 'info', stream } });
    app.get('/api/v1/thing', async () => ({ ok: true }));
    app.get('/api/v1/stream', async (_req, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.end(': hi\n\n');
    });
    await app.inject({
      url: '/api/v1/thing?api_key=log-key-123&page=2',
      headers: { 'x-api-key': 'log-key-123', 'x-request-id': 'log-1' },
    });
    await app.inject({
      url: '/api/v1/thing',
      headers: { authorization: 'Bearer log-key-123', 'x-request-id': 'log-2' },
    });
    await app.inject({ url: '/api/v1/stream', headers: { 'x-api-key': 'log-key-123', 'x-request-id': 'log-3' } });
    await app.close();
    const requests = lines.filter((l) => l.msg === 'request completed');
    expect(requests).toHaveLength(3);
    expect(requests[2]).toMatchObject({ request_id: 'log-3', status: 200 });
    expect(requests[0]).toMatchObject({
      method: 'GET',
      url: '/api/v1/thing?api_key=[REDACTED]&page=2',
      status: 200,
      duration_ms: expect.any(Number),
      request_id: 'log-1',
      tenant: tenantOf('log-key-123'),
    });
    expect(lines.filter((l) => l.request_id === 'log-2')).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain('log-key-123');
  });

  it('logs an unexpected error once with its stack, but the client never sees it', async () => {
    const { lines, stream } = capture();
    const app = await shellApp({}, { logger: { level: 'info', stream } });
    app.get('/api/v1/fail', async () => {
      throw new Error('secret-internal-detail');
    });
    const res = await app.inject({ url: '/api/v1/fail' });
    await app.close();
    expect(res.body).not.toContain('secret-internal-detail');
    const err = lines.find((l) => l.msg === 'unhandled error') as
      { err?: { message?: string; stack?: string } } | undefined;
    expect(err?.err?.message).toBe('secret-internal-detail');
    expect(lines.filter((l) => l.msg === 'request completed')).toHaveLength(1);
  });

  it('redacts the key headers whenever they are logged', async () => {
    const { lines, stream } = capture();
    const app = await shellApp({}, { logger: { level: 'info', stream } });
    app.get('/api/v1/peek', async (req) => {
      req.log.info({ headers: req.headers }, 'peek');
      return {};
    });
    await app.inject({ url: '/api/v1/peek', headers: { authorization: 'Bearer hidden-1', 'x-api-key': 'hidden-2' } });
    await app.close();
    const peek = lines.find((l) => l.msg === 'peek') as { headers: Record<string, string> };
    expect(peek.headers.authorization).toBe('[REDACTED]');
    expect(peek.headers['x-api-key']).toBe('[REDACTED]');
    expect(JSON.stringify(lines)).not.toMatch(/hidden-[12]/);
  });

  it('redacts secret-looking query parameters only', () => {
    expect(loggableUrl('/a?token=x&page=1&Signature=abc&q')).toBe('/a?token=[REDACTED]&page=1&Signature=[REDACTED]&q');
    expect(loggableUrl('/a')).toBe('/a');
  });
});
