// X-Request-ID: kept when well-formed, replaced otherwise, present on every kind of response.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hijackWithHeaders } from '../../../src/http/hijack.js';
import { shellApp } from '../../support/shell-app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request id', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await shellApp({ apiKeys: ['secret-key-1'] }, { logger: false });
    app.post(
      '/api/v1/echo',
      { schema: { body: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } } } },
      async (req) => req.body,
    );
    app.get('/api/v1/boom', { config: { public: true } }, async () => {
      throw new Error('boom');
    });
    // The way the app's own streams (SSE, MCP) take a response over.
    app.get('/api/v1/stream', { config: { public: true } }, async (_req, reply) => {
      hijackWithHeaders(reply);
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream' });
      reply.raw.end(': hi\n\n');
    });
    await app.ready();
  });
  afterAll(() => app.close());

  it('keeps a well-formed client id and echoes it in the envelope', async () => {
    const res = await app.inject({ url: '/api/v1/health', headers: { 'x-request-id': 'abc.DEF:1_2-3' } });
    expect(res.headers['x-request-id']).toBe('abc.DEF:1_2-3');
    expect(res.json().meta.request_id).toBe('abc.DEF:1_2-3');
  });

  it.each([['has spaces'], ['x'.repeat(129)], ['semi;colon'], ['']])('replaces a malformed id %#', async (given) => {
    const res = await app.inject({ url: '/api/v1/health', headers: { 'x-request-id': given } });
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('mints a UUID when none is given, a new one each time', async () => {
    const a = await app.inject({ url: '/api/v1/health' });
    const b = await app.inject({ url: '/api/v1/health' });
    expect(a.headers['x-request-id']).toMatch(UUID);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it.each([
    ['404', { method: 'GET' as const, url: '/nope' }],
    ['401', { method: 'POST' as const, url: '/api/v1/echo', payload: { message: 'x' } }],
    ['422', { method: 'POST' as const, url: '/api/v1/echo', payload: {}, headers: { 'x-api-key': 'secret-key-1' } }],
    [
      '400',
      {
        method: 'POST' as const,
        url: '/api/v1/echo',
        payload: '{bad',
        headers: { 'x-api-key': 'secret-key-1', 'content-type': 'application/json' },
      },
    ],
    ['500', { method: 'GET' as const, url: '/api/v1/boom' }],
    ['hijacked stream', { method: 'GET' as const, url: '/api/v1/stream' }],
    ['docs', { method: 'GET' as const, url: '/docs/' }],
    ['openapi', { method: 'GET' as const, url: '/openapi.json' }],
  ])('is on the %s response, with the client id', async (_name, req) => {
    const res = await app.inject({
      ...req,
      headers: { ...('headers' in req ? req.headers : {}), 'x-request-id': 'trace-42' },
    });
    expect(res.headers['x-request-id']).toBe('trace-42');
    if (res.statusCode >= 400) expect(res.json().request_id).toBe('trace-42');
  });
});
