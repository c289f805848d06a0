// The Idempotency-Key plugin on a small app with controllable handlers: in-flight repeats, what is kept, expiry, abandoned claims.
import Fastify, { type FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import idempotencyPlugin, { canonicalJson, fingerprintOf, isStorable } from '../../src/http/plugins/idempotency.js';
import problemsPlugin from '../../src/http/plugins/problem-responses.js';
import { HttpProblem } from '../../src/http/http-problem.js';
import { createStore, type Store } from '../../src/store/index.js';
import { eventually } from '../support/wait.js';

let store: Store;
let app: FastifyInstance;
const calls: Record<string, number> = {};
const gates = new Map<string, Promise<void>>();
let answer: { status: number; problem?: boolean } = { status: 200 };

/** A promise a handler waits on until `open()` is called. */
function gate(name: string): () => void {
  let open!: () => void;
  gates.set(name, new Promise<void>((resolve) => (open = resolve)));
  return open;
}

beforeAll(async () => {
  store = await createStore('sqlite::memory:');
  await store.migrate();
  app = Fastify({ logger: false });
  await app.register(problemsPlugin);
  // Stands in for the auth plugin, which the idempotency plugin names as a dependency: the tenant is X-Tenant.
  await app.register(
    fp(
      async (scope) => {
        scope.decorateRequest('tenant', '');
        scope.addHook('onRequest', async (request) => {
          request.tenant = String(request.headers['x-tenant'] ?? 'alpha');
        });
      },
      { name: 'auth' },
    ),
  );
  await app.register(idempotencyPlugin, { store, ttlMs: 60_000, apiPrefix: '/api/v1' });
  const handler = (kind: string) => async (request: any, reply: any) => {
    const label = `${kind}:${JSON.stringify(request.body)}`;
    calls[label] = (calls[label] ?? 0) + 1;
    await gates.get(request.body?.gate ?? '');
    if (answer.problem) throw new HttpProblem(answer.status, `scripted ${answer.status}`);
    reply.code(answer.status).header('location', '/api/v1/somewhere').header('x-other', 'not kept');
    return { data: { kind, n: calls[label], body: request.body } };
  };
  app.post('/api/v1/sessions', handler('create'));
  app.post('/api/v1/sessions/:name/chat', handler('sync'));
  app.post('/api/v1/sessions/:name/jobs', handler('job'));
  app.post('/api/v1/other', handler('other'));
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await store?.close();
});

const post = (url: string, body: unknown, key?: string, tenant = 'alpha') =>
  app.inject({
    method: 'POST',
    url,
    payload: body as object,
    headers: { 'x-tenant': tenant, ...(key !== undefined && { 'idempotency-key': key }) },
  });

describe('idempotency plugin', () => {
  it('fingerprints method, path and body with keys in any order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }], u: undefined })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    expect(fingerprintOf('POST', '/x', { a: 1, b: 2 })).toBe(fingerprintOf('POST', '/x', { b: 2, a: 1 }));
    expect(fingerprintOf('POST', '/x', { a: 1 })).not.toBe(fingerprintOf('POST', '/y', { a: 1 }));
    expect([200, 201, 202, 204, 400, 404, 422].every(isStorable)).toBe(true);
    expect([408, 409, 429, 500, 502, 503, 504].some(isStorable)).toBe(false);
  });

  it('answers 409 to a repeated creation while the first is in flight, then replays it', async () => {
    const open = gate('slow-create');
    const first = post('/api/v1/sessions/s/jobs', { gate: 'slow-create' }, 'create-1');
    await new Promise((r) => setImmediate(r));
    const busy = await post('/api/v1/sessions/s/jobs', { gate: 'slow-create' }, 'create-1');
    expect(busy.statusCode).toBe(409);
    expect(busy.headers['retry-after']).toBe('1');
    expect(busy.json().type).toBe('/problems/idempotency-in-flight');
    open();
    const done = await first;
    expect(done.statusCode).toBe(200);
    const again = await post('/api/v1/sessions/s/jobs', { gate: 'slow-create' }, 'create-1');
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.headers.location).toBe('/api/v1/somewhere');
    expect(again.headers['x-other']).toBeUndefined();
    expect(again.body).toBe(done.body);
    expect(calls['job:{"gate":"slow-create"}']).toBe(1);
  });

  it('makes a repeated sync request wait for the first and get its response', async () => {
    const open = gate('slow-chat');
    const first = post('/api/v1/sessions/s/chat', { gate: 'slow-chat' }, 'sync-1');
    await new Promise((r) => setImmediate(r));
    // Open the gate only once the repeat has looked at the key twice (it found it in flight and is waiting).
    const find = store.idempotency.find.bind(store.idempotency);
    let looks = 0;
    store.idempotency.find = async (tenant, key, now) => {
      if (key === 'sync-1') looks++;
      return find(tenant, key, now);
    };
    const second = post('/api/v1/sessions/s/chat', { gate: 'slow-chat' }, 'sync-1');
    await eventually(() => looks >= 3, 10_000, 'the repeat to wait');
    open();
    const [a, b] = await Promise.all([first, second]);
    store.idempotency.find = find;
    expect(b.statusCode).toBe(200);
    expect(b.body).toBe(a.body);
    expect(b.headers['idempotent-replayed']).toBe('true');
    expect(calls['sync:{"gate":"slow-chat"}']).toBe(1);
  });

  it('frees the key after a 5xx or 409, so a retry runs again; keeps a 404', async () => {
    for (const status of [500, 503, 409]) {
      answer = { status, problem: true };
      expect((await post('/api/v1/sessions/s/chat', { n: status }, `free-${status}`)).statusCode).toBe(status);
      answer = { status: 200 };
      const retry = await post('/api/v1/sessions/s/chat', { n: status }, `free-${status}`);
      expect(retry.statusCode).toBe(200);
      expect(retry.headers['idempotent-replayed']).toBeUndefined();
    }
    answer = { status: 404, problem: true };
    expect((await post('/api/v1/sessions/s/chat', { n: 404 }, 'kept-404')).statusCode).toBe(404);
    answer = { status: 200 };
    const replay = await post('/api/v1/sessions/s/chat', { n: 404 }, 'kept-404');
    expect(replay.statusCode).toBe(404);
    expect(replay.headers['content-type']).toContain('application/problem+json');
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it('runs again after the key expired, and takes over a claim whose process died', async () => {
    expect((await post('/api/v1/sessions', { name: 'exp' }, 'expires')).json().data.n).toBe(1);
    await store.db
      .updateTable('idempotency_keys')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('key', '=', 'expires')
      .execute();
    const after = await post('/api/v1/sessions', { name: 'exp' }, 'expires');
    expect(after.headers['idempotent-replayed']).toBeUndefined();
    expect(after.json().data.n).toBe(2);

    await store.idempotency.claim({
      tenant: 'alpha',
      key: 'abandoned',
      fingerprint: fingerprintOf('POST', '/api/v1/sessions', { name: 'ab' }),
      lockedUntil: new Date(Date.now() - 1).toISOString(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    const taken = await post('/api/v1/sessions', { name: 'ab' }, 'abandoned');
    expect(taken.statusCode).toBe(200);
    expect(taken.headers['idempotent-replayed']).toBeUndefined();
  });

  it('keeps keys per tenant and ignores the header on other routes', async () => {
    expect((await post('/api/v1/sessions', { name: 'per' }, 'tenant-key', 'alpha')).json().data.n).toBe(1);
    expect((await post('/api/v1/sessions', { name: 'per' }, 'tenant-key', 'bravo')).json().data.n).toBe(2);
    expect((await post('/api/v1/other', { x: 1 }, 'ignored')).json().data.n).toBe(1);
    expect((await post('/api/v1/other', { x: 1 }, 'ignored')).json().data.n).toBe(2);
    expect((await post('/api/v1/other', { x: 2 }, '')).statusCode).toBe(200);
  });
});
