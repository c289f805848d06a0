// Rate limits in Redis (REDIS_URL): two app instances share one budget per key; an unreachable Redis fails loudly in CI.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, RedisUnavailableError } from '../../../src/store/redis.js';
import { needs, REDIS_TEST_URL } from '../../support/needs.js';
import { tenantOf } from '../../../src/security/api-keys.js';
import { appWithStore, USER_KEY, type AppWithStore } from '../../support/app-with-store.js';

const REDIS_URL = REDIS_TEST_URL;

describe.skipIf(await needs('the Redis rate-limit tests', 'redis'))('rate limits in Redis', () => {
  const prefix = `cca-test-${randomBytes(6).toString('hex')}:`;
  const clients: Redis[] = [];
  let a: AppWithStore;
  let b: AppWithStore;

  beforeAll(async () => {
    const env = { RATE_LIMIT_REQUESTS: '4', RATE_LIMIT_WINDOW: '60', REDIS_URL, REDIS_KEY_PREFIX: prefix };
    for (let i = 0; i < 2; i++) clients.push(await connectRedis(REDIS_URL));
    a = await appWithStore(env, { redis: clients[0] });
    b = await appWithStore(env, { redis: clients[1] });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    const keys = await clients[0]?.keys(`${prefix}*`);
    if (keys?.length) await clients[0]!.del(...keys);
    for (const c of clients) c.disconnect();
  });

  it('two instances share one budget per key, and the counters live under the keys the docs name', async () => {
    const statuses: number[] = [];
    const remaining: string[] = [];
    for (const app of [a, b, a, b, a, b]) {
      const res = await app.app.inject({ url: '/api/v1/usage', headers: { 'x-api-key': USER_KEY } });
      statuses.push(res.statusCode);
      remaining.push(String(res.headers['x-ratelimit-remaining']));
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect(remaining.slice(0, 4)).toEqual(['3', '2', '1', '0']);
    // A request without a key (per IP) and a wrong key (failed authentications of the IP).
    expect((await a.app.inject({ url: '/api/v1/usage' })).statusCode).toBe(401);
    const keyId = `env_${tenantOf(USER_KEY).slice(2)}`;
    const stored = (await clients[0]!.keys(`${prefix}*`)).sort();
    // docs/configuration.md, REDIS_KEY_PREFIX: `<prefix>rl:key:<key id>` and `<prefix>rl:anon:<ip>`.
    expect(stored).toEqual([`${prefix}rl:anon:127.0.0.1`, `${prefix}rl:key:${keyId}`]);
    expect(await clients[0]!.get(`${prefix}rl:key:${keyId}`)).toBe('6');
  });

  it('Redis going away later: limits go on in memory (never off, never a 5xx)', async () => {
    const client = await connectRedis(REDIS_URL);
    const c = await appWithStore(
      { RATE_LIMIT_REQUESTS: '2', REDIS_URL, REDIS_KEY_PREFIX: `${prefix}gone:` },
      { redis: client },
    );
    try {
      client.disconnect();
      const usage = (key?: string) => c.app.inject({ url: '/api/v1/usage', headers: key ? { 'x-api-key': key } : {} });
      const byKey = [];
      for (let i = 0; i < 3; i++) byKey.push((await usage(USER_KEY)).statusCode);
      expect(byKey).toEqual([200, 200, 429]);
      // Wrong keys from one IP: refused 401 until the IP's failed attempts reach the limit, then 429.
      const guesses = [];
      for (let i = 0; i < 4; i++) guesses.push((await usage(`wrong-key-guess-${i}`)).statusCode);
      expect(guesses).toEqual([401, 401, 429, 429]);
      expect(await client.keys('*').catch(() => 'down')).toBe('down');
    } finally {
      await c.close();
    }
  });

  it('an unreachable Redis at start-up is a clear error that hides the password', async () => {
    const err = await connectRedis('redis://:s3cret-pass@127.0.0.1:1', { timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/REDIS_URL/);
    expect((err as Error).message).not.toContain('s3cret-pass');
  });
});
