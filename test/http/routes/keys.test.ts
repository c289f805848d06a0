// API keys over HTTP: admin-only key routes, secrets shown once and stored as hashes, revoked keys failing at once, scopes and X-Tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret, tenantOf } from '../../../src/security/api-keys.js';
import { KeyService } from '../../../src/security/keys-service.js';
import { eventually } from '../../support/wait.js';
import { ADMIN_KEY, appWithStore, OTHER_KEY, USER_KEY, type AppWithStore } from '../../support/app-with-store.js';

let t: AppWithStore;
const as = (key: string | undefined, extra: Record<string, string> = {}) => ({
  ...(key ? { 'x-api-key': key } : {}),
  ...extra,
});

beforeAll(async () => {
  t = await appWithStore({ API_KEY_CACHE_SECONDS: '0.3' });
});
afterAll(() => t.close());

async function createKey(body: Record<string, unknown>) {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/keys', headers: as(ADMIN_KEY), payload: body });
  expect(res.statusCode).toBe(201);
  return res;
}

describe('key routes', () => {
  it('an admin creates a key: the secret is shown once, the database holds only its SHA-256', async () => {
    const res = await createKey({ name: 'ci bot', rate_limit: 50, budget_usd: 2.5 });
    expect(res.headers['cache-control']).toBe('no-store');
    const key = res.json().data;
    expect(key).toMatchObject({
      name: 'ci bot',
      scope: 'user',
      source: 'db',
      rate_limit: 50,
      budget_usd: 2.5,
      revoked_at: null,
      last_used_at: null,
    });
    expect(key.id).toMatch(/^key_[0-9a-f]{16}$/);
    expect(key.secret).toMatch(/^cca_[A-Za-z0-9_-]{43}$/);
    expect(key.prefix).toBe(key.secret.slice(0, 8));
    expect(res.headers.location).toBe(`/api/v1/keys/${key.id}`);
    // Its tenant is derived like that of a configured key: k_ + 16 hex of the SHA-256 of the secret.
    expect(key.tenant).toBe(tenantOf(key.secret));

    const row = await t.store.apiKeys.findById(key.id);
    expect(row?.hash).toBe(hashSecret(key.secret));
    expect(JSON.stringify(row)).not.toContain(key.secret.slice(8));

    const listed = await t.app.inject({ url: '/api/v1/keys?limit=100', headers: as(ADMIN_KEY) });
    expect(listed.statusCode).toBe(200);
    expect(listed.body).not.toContain(key.secret);
    expect(listed.body).not.toContain(row!.hash);
    expect(listed.json().data.find((k: { id: string }) => k.id === key.id)).toMatchObject({
      name: 'ci bot',
      prefix: key.prefix,
    });
    expect(
      (await t.app.inject({ url: `/api/v1/keys/${key.id}`, headers: as(ADMIN_KEY) })).json().data,
    ).not.toHaveProperty('secret');
  });

  it('lists configured keys first, without secrets, and paginates across both kinds', async () => {
    const res = await t.app.inject({ url: '/api/v1/keys?limit=2', headers: as(ADMIN_KEY) });
    const body = res.json();
    expect(body.data.map((k: { source: string; scope: string }) => [k.source, k.scope])).toEqual([
      ['env', 'user'],
      ['env', 'user'],
    ]);
    expect(body.meta.pagination.total).toBeGreaterThanOrEqual(4);
    for (const secret of [USER_KEY, OTHER_KEY, ADMIN_KEY]) expect(res.body).not.toContain(secret);
    const page2 = (await t.app.inject({ url: '/api/v1/keys?limit=2&page=2', headers: as(ADMIN_KEY) })).json();
    expect(page2.data[0]).toMatchObject({ source: 'env', scope: 'admin', name: 'ADMIN_API_KEYS[0]' });
    expect(page2.data[1].source).toBe('db');
  });

  it('a created key works at once, is its own tenant, and records its last use', async () => {
    const key = (await createKey({ name: 'fresh' })).json().data;
    const res = await t.app.inject({ url: '/api/v1/audit', headers: as(key.secret) });
    expect(res.statusCode).toBe(200);
    await eventually(
      async () => (await t.store.apiKeys.findById(key.id))?.last_used_at ?? undefined,
      5000,
      'last_used_at',
    );
  });

  it('a revoked key fails on its very next request; revoking again changes nothing', async () => {
    const key = (await createKey({ name: 'short-lived' })).json().data;
    expect((await t.app.inject({ url: '/api/v1/usage', headers: as(key.secret) })).statusCode).toBe(200);
    const del = await t.app.inject({ method: 'DELETE', url: `/api/v1/keys/${key.id}`, headers: as(ADMIN_KEY) });
    expect(del.statusCode).toBe(204);
    const after = await t.app.inject({ url: '/api/v1/usage', headers: as(key.secret) });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ type: '/problems/revoked-api-key', status: 401 });
    expect(
      (await t.app.inject({ method: 'DELETE', url: `/api/v1/keys/${key.id}`, headers: as(ADMIN_KEY) })).statusCode,
    ).toBe(204);
    const shown = (await t.app.inject({ url: `/api/v1/keys/${key.id}`, headers: as(ADMIN_KEY) })).json().data;
    expect(shown.revoked_at).toEqual(expect.any(String));
  });

  it('a revoke written by another process (the CLI) is seen within API_KEY_CACHE_SECONDS', async () => {
    const key = (await createKey({ name: 'revoked-elsewhere' })).json().data;
    expect((await t.app.inject({ url: '/api/v1/usage', headers: as(key.secret) })).statusCode).toBe(200);
    await new KeyService(t.config, t.store.apiKeys).revoke(key.id);
    await eventually(
      async () => (await t.app.inject({ url: '/api/v1/usage', headers: as(key.secret) })).statusCode === 401,
      5000,
      'the revoke to be seen',
    );
  });

  it('keys from the environment cannot be revoked through the API (409); unknown ids are 404; bad ids 422', async () => {
    const env = (await t.app.inject({ url: '/api/v1/keys', headers: as(ADMIN_KEY) })).json().data[0];
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/keys/${env.id}`, headers: as(ADMIN_KEY) });
    expect(res.statusCode).toBe(409);
    expect(res.json().type).toBe('/problems/key-in-environment');
    expect(
      (await t.app.inject({ method: 'DELETE', url: '/api/v1/keys/key_0000000000000000', headers: as(ADMIN_KEY) }))
        .statusCode,
    ).toBe(404);
    expect((await t.app.inject({ url: '/api/v1/keys/key_0000000000000000', headers: as(ADMIN_KEY) })).statusCode).toBe(
      404,
    );
    expect((await t.app.inject({ url: '/api/v1/keys/nope', headers: as(ADMIN_KEY) })).statusCode).toBe(422);
  });

  it('validates the create body: 422 with errors[], nothing created', async () => {
    const before = (await t.store.apiKeys.list({ offset: 0, limit: 100 })).total;
    for (const payload of [
      {},
      { name: '' },
      { name: 'x', scope: 'root' },
      { name: 'x', rate_limit: 0 },
      { name: 'x', budget_usd: -1 },
      { name: 'x', extra: 1 },
    ]) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/keys', headers: as(ADMIN_KEY), payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(422);
      expect(res.json().errors.length).toBeGreaterThan(0);
    }
    expect((await t.store.apiKeys.list({ offset: 0, limit: 100 })).total).toBe(before);
  });

  it('a user key gets 403 on every key route, before its body is even looked at', async () => {
    const user = (await createKey({ name: 'plain user' })).json().data;
    for (const key of [USER_KEY, user.secret]) {
      for (const [method, url, payload] of [
        ['POST', '/api/v1/keys', { name: 'mine' }],
        ['POST', '/api/v1/keys', { bogus: true }],
        ['GET', '/api/v1/keys', undefined],
        ['GET', `/api/v1/keys/${user.id}`, undefined],
        ['DELETE', `/api/v1/keys/${user.id}`, undefined],
      ] as const) {
        const res = await t.app.inject({ method, url, headers: as(key), ...(payload ? { payload } : {}) });
        expect(res.statusCode, `${method} ${url}`).toBe(403);
        expect(res.json().type).toBe('/problems/admin-only');
      }
    }
    expect((await t.store.apiKeys.findById(user.id))?.revoked_at).toBeNull();
  });

  it('an admin key created through the API can manage keys', async () => {
    const admin = (await createKey({ name: 'second admin', scope: 'admin' })).json().data;
    expect(admin.scope).toBe('admin');
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: { authorization: `Bearer ${admin.secret}` },
      payload: { name: 'made by admin 2' },
    });
    expect(res.statusCode).toBe(201);
  });
});

describe('authentication failures', () => {
  it('no key, a wrong key, a key in the query string: 401 problems that never echo the key', async () => {
    const none = await t.app.inject({ url: '/api/v1/usage' });
    expect(none.statusCode).toBe(401);
    expect(none.json().type).toBe('/problems/missing-api-key');
    const wrong = await t.app.inject({ url: '/api/v1/usage', headers: as('cca_wrong-wrong-wrong') });
    expect(wrong.json().type).toBe('/problems/invalid-api-key');
    expect(wrong.body).not.toContain('wrong-wrong');
    const query = await t.app.inject({ url: `/api/v1/usage?api_key=${USER_KEY}` });
    expect(query.statusCode).toBe(401);
    expect(query.body).not.toContain(USER_KEY);
  });
});

describe('X-Tenant', () => {
  it('a user key may not act for another tenant (403), whatever the value', async () => {
    for (const value of [tenantOf(OTHER_KEY), tenantOf(USER_KEY), 'garbage']) {
      const res = await t.app.inject({ url: '/api/v1/audit', headers: as(USER_KEY, { 'x-tenant': value }) });
      expect(res.statusCode).toBe(403);
      expect(res.json().type).toBe('/problems/tenant-forbidden');
    }
  });

  it('an admin key acts for a tenant with it; a malformed tenant is 400', async () => {
    const ok = await t.app.inject({ url: '/api/v1/audit', headers: as(ADMIN_KEY, { 'x-tenant': tenantOf(USER_KEY) }) });
    expect(ok.statusCode).toBe(200);
    for (const row of ok.json().data) expect(row.tenant).toBe(tenantOf(USER_KEY));
    const bad = await t.app.inject({ url: '/api/v1/audit', headers: as(ADMIN_KEY, { 'x-tenant': '../etc' }) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().type).toBe('/problems/bad-tenant');
  });
});

describe('open mode', () => {
  it('every caller is the local admin, but no HTTP caller can mint a key; a key made on the server ends open mode', async () => {
    const open = await appWithStore({ API_KEYS: '', ADMIN_API_KEYS: '' });
    try {
      expect((await open.app.inject({ url: '/api/v1/keys' })).statusCode).toBe(200);
      const refused = await open.app.inject({
        method: 'POST',
        url: '/api/v1/keys',
        payload: { name: 'first', scope: 'admin' },
      });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ type: '/problems/open-mode', status: 403 });
      expect(refused.json().detail).toMatch(/ADMIN_API_KEYS.*keys create/);
      expect(await open.store.apiKeys.countActive()).toBe(0);
      // The way the `keys create` command makes the first key.
      const { secret } = await open.keys.create({ name: 'first', scope: 'admin' });
      expect((await open.app.inject({ url: '/api/v1/keys' })).statusCode).toBe(401);
      expect((await open.app.inject({ url: '/api/v1/keys', headers: as(secret) })).statusCode).toBe(200);
    } finally {
      await open.close();
    }
  });
});
