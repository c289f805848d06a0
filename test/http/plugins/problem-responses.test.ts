// Every failure path answers a well-formed application/problem+json document with the right status.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { LightMyRequestResponse } from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../../src/engine/errors.js';
import { conflict, notFound, unprocessable } from '../../../src/http/http-problem.js';
import { problemResponses } from '../../../src/http/schemas/common.js';
import { shellApp } from '../../support/shell-app.js';

function expectProblem(res: LightMyRequestResponse, status: number, type: string): Record<string, unknown> {
  expect(res.statusCode).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json<Record<string, unknown>>();
  expect(body).toMatchObject({
    type,
    status,
    title: expect.any(String),
    detail: expect.any(String),
    request_id: res.headers['x-request-id'],
  });
  expect(body.instance).toBe(new URL(res.raw.req.url ?? '/', 'http://x').pathname);
  expect(JSON.stringify(body)).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack
  return body;
}

describe('problem documents', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await shellApp({ bodyLimitBytes: 1024 }, { logger: false });
    await app.register(
      async (api) => {
        const r = api.withTypeProvider<TypeBoxTypeProvider>();
        r.post(
          '/things/:id',
          {
            schema: {
              params: Type.Object({ id: Type.String({ pattern: '^[a-z]+$' }) }),
              querystring: Type.Object({ n: Type.Optional(Type.Integer({ minimum: 1 })) }),
              body: Type.Object({
                message: Type.String(),
                mode: Type.Optional(Type.Union([Type.Literal('a'), Type.Literal('b')])),
              }),
              response: { 200: Type.Object({ ok: Type.Boolean() }), ...problemResponses(404, 422) },
            },
          },
          async () => ({ ok: true }),
        );
        r.post(
          '/strict',
          { schema: { body: Type.Object({ message: Type.String() }, { additionalProperties: false }) } },
          async (req) => req.body,
        );
        r.get('/throw/:what', async (req) => {
          const what = (req.params as { what: string }).what;
          if (what === 'overloaded')
            throw new EngineError('overloaded', 'No turn slot came free within 30 s.', { retryAfterSeconds: 4.2 });
          if (what === 'timeout') throw new EngineError('timeout', 'The turn ran past 300 s.');
          if (what === 'notfound') throw notFound("Session 'alpha'");
          if (what === 'conflict') throw conflict("Session 'alpha' already exists.");
          if (what === 'unprocessable')
            throw unprocessable('Bad mix.', [{ location: 'body', pointer: '/a', message: 'clashes with /b' }]);
          throw new Error('database password is hunter2 at /etc/secret');
        });
      },
      { prefix: '/api/v1' },
    );
    await app.ready();
  });
  afterAll(() => app.close());

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  it('the test route works when the request is right', async () => {
    const res = await post('/api/v1/things/abc?n=2', { message: 'hi' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });

  it('a missing body property → 422 with readable errors[]', async () => {
    const body = expectProblem(await post('/api/v1/things/abc', { mode: 'a' }), 422, '/problems/validation-failed');
    expect(body.errors).toEqual([
      { location: 'body', pointer: '/message', message: "must have required property 'message'" },
    ]);
    expect(body.detail).toContain("must have required property 'message'");
  });

  it('a wrong type and a bad enum value point at the property', async () => {
    const wrong = expectProblem(await post('/api/v1/things/abc', { message: 5 }), 422, '/problems/validation-failed');
    expect(wrong.errors).toEqual([{ location: 'body', pointer: '/message', message: 'must be string' }]);
    const bad = expectProblem(
      await post('/api/v1/things/abc', { message: 'x', mode: 'c' }),
      422,
      '/problems/validation-failed',
    );
    expect((bad.errors as Array<{ pointer: string }>)[0]?.pointer).toBe('/mode');
  });

  it('a body is not coerced, and an unknown property of a closed object is a 422', async () => {
    const extra = expectProblem(
      await post('/api/v1/strict', { message: 'x', mesage: 'typo' }),
      422,
      '/problems/validation-failed',
    );
    expect(extra.errors).toEqual([{ location: 'body', pointer: '/mesage', message: 'is not an allowed property' }]);
    expectProblem(await post('/api/v1/strict', { message: true }), 422, '/problems/validation-failed');
    expect((await post('/api/v1/strict', { message: 'x' })).json()).toEqual({ message: 'x' });
  });

  it('params and query failures name their location', async () => {
    const p = expectProblem(await post('/api/v1/things/ABC', { message: 'x' }), 422, '/problems/validation-failed');
    expect(p.errors).toEqual([{ location: 'params', pointer: '/id', message: 'must match pattern "^[a-z]+$"' }]);
    const q = expectProblem(
      await post('/api/v1/things/abc?n=zero', { message: 'x' }),
      422,
      '/problems/validation-failed',
    );
    expect(q.errors).toEqual([{ location: 'query', pointer: '/n', message: 'must be integer' }]);
  });

  it('malformed JSON → 400 bad-json', async () => {
    expectProblem(await post('/api/v1/things/abc', '{"message": '), 400, '/problems/bad-json');
  });

  it('a body over the limit → 413 naming the limit', async () => {
    const body = expectProblem(
      await post('/api/v1/things/abc', { message: 'x'.repeat(2000) }),
      413,
      '/problems/payload-too-large',
    );
    expect(body.detail).toContain('1024 bytes');
    expect(body.limit_bytes).toBe(1024);
  });

  it('an unsupported content type → 415', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/things/abc',
      headers: { 'content-type': 'text/csv' },
      payload: 'a,b',
    });
    expect(expectProblem(res, 415, '/problems/unsupported-media-type').detail).toContain('text/csv');
  });

  it('an unknown route → 404 not-found, the query left out of instance', async () => {
    const body = expectProblem(await app.inject({ url: '/api/v1/nothing-here?token=abc' }), 404, '/problems/not-found');
    expect(body.instance).toBe('/api/v1/nothing-here');
    expect(JSON.stringify(body)).not.toContain('token=abc');
    expectProblem(await app.inject({ method: 'DELETE', url: '/elsewhere' }), 404, '/problems/not-found');
  });

  it('an EngineError → its own problem, with Retry-After when it has one', async () => {
    const res = await app.inject({ url: '/api/v1/throw/overloaded' });
    const body = expectProblem(res, 503, '/problems/overloaded');
    expect(res.headers['retry-after']).toBe('5');
    expect(body.detail).toBe('No turn slot came free within 30 s.');
    const timeout = await app.inject({ url: '/api/v1/throw/timeout' });
    expectProblem(timeout, 504, '/problems/timeout');
    expect(timeout.headers['retry-after']).toBeUndefined();
  });

  it('HttpProblem helpers render as given', async () => {
    expect(expectProblem(await app.inject({ url: '/api/v1/throw/notfound' }), 404, '/problems/not-found').detail).toBe(
      "Session 'alpha' was not found.",
    );
    expectProblem(await app.inject({ url: '/api/v1/throw/conflict' }), 409, '/problems/conflict');
    const u = expectProblem(
      await app.inject({ url: '/api/v1/throw/unprocessable' }),
      422,
      '/problems/validation-failed',
    );
    expect(u.errors).toEqual([{ location: 'body', pointer: '/a', message: 'clashes with /b' }]);
  });

  it('any other error → 500 with a generic detail, nothing of the message leaked', async () => {
    const res = await app.inject({ url: '/api/v1/throw/other' });
    const body = expectProblem(res, 500, '/problems/internal-error');
    expect(res.body).not.toContain('hunter2');
    expect(res.body).not.toContain('/etc/secret');
    expect(body.detail).toMatch(/unexpected/i);
  });
});
