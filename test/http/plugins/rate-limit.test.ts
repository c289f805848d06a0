// Rate limits: X-RateLimit headers, the 429 problem with Retry-After, one budget per key, per-key overrides, per-IP for failed auth, exemptions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, appWithStore, OTHER_KEY, USER_KEY, type AppWithStore } from '../../support/app-with-store.js';

let t: AppWithStore;
const get = (key?: string, url = '/api/v1/usage') => t.app.inject({ url, headers: key ? { 'x-api-key': key } : {} });

beforeAll(async () => {
  t = await appWithStore({ RATE_LIMIT_REQUESTS: '3', RATE_LIMIT_WINDOW: '60' });
});
afterAll(() => t.close());

describe('rate limits', () => {
  it('counts down in X-RateLimit-* headers, then answers a 429 problem with Retry-After', async () => {
    const seen: Array<[number, string, string, string]> = [];
    for (let i = 0; i < 3; i++) {
      const res = await get(USER_KEY);
      expect(res.statusCode).toBe(200);
      seen.push([
        res.statusCode,
        String(res.headers['x-ratelimit-limit']),
        String(res.headers['x-ratelimit-remaining']),
        String(res.headers['x-ratelimit-reset']),
      ]);
    }
    expect(seen.map((s) => s[2])).toEqual(['2', '1', '0']);
    expect(seen.every((s) => s[1] === '3' && Number(s[3]) > 0 && Number(s[3]) <= 60)).toBe(true);

    const limited = await get(USER_KEY);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
    const retry = Number(limited.headers['retry-after']);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(60);
    expect(limited.headers['x-ratelimit-remaining']).toBe('0');
    expect(limited.json()).toMatchObject({
      type: '/problems/too-many-requests',
      status: 429,
      limit: 3,
      window_seconds: 60,
      instance: '/api/v1/usage',
    });
    // Mutating routes are limited the same way, before anything is done.
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/api/v1/tokens/count',
          headers: { 'x-api-key': USER_KEY },
          payload: { message: 'hi' },
        })
      ).statusCode,
    ).toBe(429);
  });

  it('each key has its own budget', async () => {
    const res = await get(OTHER_KEY);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-ratelimit-remaining']).toBe('2');
  });

  it("a key's own rate limit replaces RATE_LIMIT_REQUESTS", async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: { 'x-api-key': ADMIN_KEY },
      payload: { name: 'slow', rate_limit: 1 },
    });
    const secret = created.json().data.secret;
    const first = await get(secret);
    expect(first.statusCode).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('1');
    expect((await get(secret)).statusCode).toBe(429);
    const generous = (
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/keys',
        headers: { 'x-api-key': ADMIN_KEY },
        payload: { name: 'fast', rate_limit: 10 },
      })
    ).json().data.secret;
    for (let i = 0; i < 5; i++) expect((await get(generous)).statusCode).toBe(200);
  });

  it('health, docs and the OpenAPI document are exempt', async () => {
    for (let i = 0; i < 6; i++) {
      for (const url of ['/api/v1/health', '/openapi.json', '/docs/']) {
        const res = await t.app.inject({ url });
        expect(res.statusCode, url).toBe(200);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      }
    }
  });

  it('requests without a valid key count against their IP: guessing keys is limited too', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(`wrong-key-${i}-0000`)).statusCode);
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    const res = await get();
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // A valid key is not held back by its IP's failures.
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: { 'x-api-key': ADMIN_KEY },
      payload: { name: 'same ip' },
    });
    expect(created.statusCode).toBe(201);
  });

  it('RATE_LIMIT_REQUESTS=0 turns limits off: no headers', async () => {
    const free = await appWithStore({ RATE_LIMIT_REQUESTS: '0' });
    try {
      for (let i = 0; i < 10; i++) {
        const res = await free.app.inject({ url: '/api/v1/usage', headers: { 'x-api-key': USER_KEY } });
        expect(res.statusCode).toBe(200);
        expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      }
    } finally {
      await free.close();
    }
  });
});
