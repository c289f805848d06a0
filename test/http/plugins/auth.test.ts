// API key auth: missing and invalid keys are 401 problems, X-API-Key and Bearer both work, public routes and open mode need none.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantOf } from '../../../src/security/api-keys.js';
import { shellApp } from '../../support/shell-app.js';

const KEY = 'first-key-0123';
const OTHER = 'second-key-4567';

async function appWith(apiKeys: string[]): Promise<FastifyInstance> {
  const app = await shellApp({ apiKeys }, { logger: false });
  app.get('/api/v1/whoami', async (req) => ({ tenant: req.tenant }));
  app.get('/api/v1/open-door', { config: { public: true } }, async (req) => ({ tenant: req.tenant }));
  await app.ready();
  return app;
}

describe('auth with API keys', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await appWith([KEY, OTHER]);
  });
  afterAll(() => app.close());

  it('no key → 401 missing-api-key with WWW-Authenticate', async () => {
    const res = await app.inject({ url: '/api/v1/whoami' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json()).toMatchObject({ type: '/problems/missing-api-key', status: 401, instance: '/api/v1/whoami' });
  });

  it('a wrong key → 401 invalid-api-key, and the key is not echoed', async () => {
    for (const headers of [
      { 'x-api-key': 'nope-nope-nope' },
      { authorization: 'Bearer nope-nope-nope' },
      { 'x-api-key': KEY.slice(0, -1) },
    ]) {
      const res = await app.inject({ url: '/api/v1/whoami', headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.json().type).toBe('/problems/invalid-api-key');
      expect(res.body).not.toContain('nope-nope');
    }
  });

  it('a non-Bearer Authorization counts as missing', async () => {
    const res = await app.inject({ url: '/api/v1/whoami', headers: { authorization: `Basic ${KEY}` } });
    expect(res.json().type).toBe('/problems/missing-api-key');
  });

  it('X-API-Key works and names the tenant', async () => {
    const res = await app.inject({ url: '/api/v1/whoami', headers: { 'x-api-key': KEY } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ tenant: tenantOf(KEY) });
  });

  it('Authorization: Bearer works (any case of the scheme); each key is its own tenant', async () => {
    const a = await app.inject({ url: '/api/v1/whoami', headers: { authorization: `Bearer ${OTHER}` } });
    const b = await app.inject({ url: '/api/v1/whoami', headers: { authorization: `bearer ${KEY}` } });
    expect(a.json()).toEqual({ tenant: tenantOf(OTHER) });
    expect(b.json()).toEqual({ tenant: tenantOf(KEY) });
    expect(tenantOf(KEY)).toMatch(/^k_[0-9a-f]{16}$/);
    expect(tenantOf(KEY)).not.toBe(tenantOf(OTHER));
  });

  it('public routes need no key: config.public, health, docs, openapi.json', async () => {
    expect((await app.inject({ url: '/api/v1/open-door' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/health' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/openapi.json' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/v1/openapi.json' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/docs' })).statusCode).toBeLessThan(400);
    expect((await app.inject({ url: '/docs/' })).statusCode).toBe(200);
  });

  it('a public route still ignores a wrong key rather than failing', async () => {
    const res = await app.inject({ url: '/api/v1/open-door', headers: { 'x-api-key': 'wrong-wrong' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ tenant: '' });
  });

  it('an unknown route is a 404 with or without a key', async () => {
    expect((await app.inject({ url: '/api/v1/no-such-thing' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/api/v1/no-such-thing', headers: { 'x-api-key': KEY } })).statusCode).toBe(404);
  });
});

describe('open mode (no API_KEYS)', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await appWith([]);
  });
  afterAll(() => app.close());

  it('every request is the local tenant, key or not', async () => {
    expect((await app.inject({ url: '/api/v1/whoami' })).json()).toEqual({ tenant: 'local' });
    expect((await app.inject({ url: '/api/v1/whoami', headers: { 'x-api-key': 'anything-at-all' } })).json()).toEqual({
      tenant: 'local',
    });
  });

  it('health says auth_mode open', async () => {
    expect((await app.inject({ url: '/api/v1/health' })).json().data.auth_mode).toBe('open');
  });
});
