// JOB_STARTS_PER_KEY's sliding window: in memory (one node, a fake clock) and in Redis (shared by two connections, as two nodes).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStartRate, RedisStartRate } from '../../src/jobs/start-rate.js';
import { needs, REDIS_TEST_URL } from '../support/needs.js';
import { eventually } from '../support/wait.js';

describe('MemoryStartRate', () => {
  it('allows `limit` starts per key in the window, then says when the oldest leaves it', async () => {
    let now = 1_000_000;
    const rate = new MemoryStartRate({ limit: 2, windowMs: 60_000 }, () => now);
    expect(await rate.take('k', 'a')).toBe(0);
    now += 10_000;
    expect(await rate.take('k', 'b')).toBe(0);
    expect(await rate.take('k', 'c')).toBe(50_000);
    expect(await rate.take('other', 'x')).toBe(0); // each key its own window
    expect(rate.full()).toEqual({ keys: ['k'], opensInMs: 50_000 });
    now += 50_000; // the first start leaves the window
    expect(rate.full()).toEqual({ keys: [], opensInMs: undefined });
    expect(await rate.take('k', 'c')).toBe(0);
    expect(await rate.take('k', 'd')).toBe(10_000);
  });

  it('takes back a start that did not happen', async () => {
    const rate = new MemoryStartRate({ limit: 1, windowMs: 60_000 });
    expect(await rate.take('k', 'a')).toBe(0);
    expect(await rate.take('k', 'b')).toBeGreaterThan(0);
    await rate.giveBack('k', 'a');
    expect(await rate.take('k', 'b')).toBe(0);
  });
});

const noRedis = await needs('the job start rate in Redis', 'redis');

describe.skipIf(noRedis)('RedisStartRate', () => {
  const prefix = `cca-test-rate-${randomBytes(4).toString('hex')}:`;
  let one: Redis;
  let two: Redis;
  beforeAll(() => {
    one = new Redis(REDIS_TEST_URL);
    two = new Redis(REDIS_TEST_URL);
  });
  afterAll(async () => {
    const keys = await one.keys(`${prefix}*`);
    if (keys.length > 0) await one.del(...keys);
    one.disconnect();
    two.disconnect();
  });

  it('holds one window per key across nodes, gives back, and has room again once the window has passed', async () => {
    const settings = { limit: 3, windowMs: 1_500 };
    const nodes = [new RedisStartRate(one, prefix, settings), new RedisStartRate(two, prefix, settings)];
    const taken = [];
    for (let i = 0; i < 3; i++) taken.push(await nodes[i % 2]!.take('key_a', `t${i}`));
    expect(taken).toEqual([0, 0, 0]);
    const wait = await nodes[1]!.take('key_a', 't3');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(1_500);
    expect(await nodes[0]!.take('key_b', 'other')).toBe(0);
    expect(await one.zcard(`${prefix}jobs:key-starts:key_a`)).toBe(3);
    expect(await one.pttl(`${prefix}jobs:key-starts:key_a`)).toBeLessThanOrEqual(1_500);

    await nodes[0]!.giveBack('key_a', 't2');
    expect(await nodes[1]!.take('key_a', 't3')).toBe(0);
    expect(await nodes[0]!.take('key_a', 't4')).toBeGreaterThan(0);
    // Once the window has passed, starts are allowed again.
    await eventually(async () => ((await nodes[0]!.take('key_a', 't4')) === 0 ? true : undefined), 5_000, 'room');
  });
});
