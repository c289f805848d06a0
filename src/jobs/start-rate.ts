// How many jobs a key may start per window (JOB_STARTS_PER_KEY): a sliding window log, in this process's memory or in Redis across nodes.
import type { Redis } from 'ioredis';

export interface StartRateSettings {
  /** Starts allowed per window per key (JOB_STARTS_PER_KEY, > 0). */
  limit: number;
  /** JOB_STARTS_WINDOW_SECONDS, ms. */
  windowMs: number;
}

export interface StartRate {
  /** Counts a start of `key` under `token` when the window has room: 0 then; else the ms until it may (nothing counted). */
  take(key: string, token: string): Promise<number>;
  /** Gives back a start that did not happen (the turn never started). */
  giveBack(key: string, token: string): Promise<void>;
  /** Keys whose window is full now, and when the soonest of them has room (ms from now): only this process's view. */
  full?(): { keys: string[]; opensInMs?: number };
}

/** The one-node limiter (the database queue): the starts of each key in the window, oldest first. */
export class MemoryStartRate implements StartRate {
  private readonly starts = new Map<string, Array<{ at: number; token: string }>>();

  constructor(
    private readonly settings: StartRateSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key's starts still in the window (older ones dropped). */
  private current(key: string, now: number): Array<{ at: number; token: string }> {
    const kept = (this.starts.get(key) ?? []).filter((s) => s.at > now - this.settings.windowMs);
    if (kept.length > 0) this.starts.set(key, kept);
    else this.starts.delete(key);
    return kept;
  }

  take(key: string, token: string): Promise<number> {
    const now = this.now();
    const kept = this.current(key, now);
    if (kept.length < this.settings.limit) {
      this.starts.set(key, [...kept, { at: now, token }]);
      return Promise.resolve(0);
    }
    return Promise.resolve(Math.max(1, kept[0]!.at + this.settings.windowMs - now));
  }

  giveBack(key: string, token: string): Promise<void> {
    const kept = (this.starts.get(key) ?? []).filter((s) => s.token !== token);
    if (kept.length > 0) this.starts.set(key, kept);
    else this.starts.delete(key);
    return Promise.resolve();
  }

  full(): { keys: string[]; opensInMs?: number } {
    const now = this.now();
    const keys: string[] = [];
    let opensInMs: number | undefined;
    for (const key of [...this.starts.keys()]) {
      const kept = this.current(key, now);
      if (kept.length < this.settings.limit) continue;
      keys.push(key);
      const opens = kept[0]!.at + this.settings.windowMs - now;
      opensInMs = opensInMs === undefined ? opens : Math.min(opensInMs, opens);
    }
    return { keys, opensInMs };
  }
}

/**
 * One step of the sliding window in a sorted set (member: token, score: when it started, by Redis's clock so the
 * nodes agree): drops starts older than the window, then adds this one when there is room (returns 0), else returns
 * the ms until the oldest leaves the window.
 */
const TAKE_START = `
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('zadd', KEYS[1], now, ARGV[3])
  redis.call('pexpire', KEYS[1], window)
  return 0
end
local oldest = redis.call('zrange', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)`;

/** The limiter across nodes (BullMQ): one sorted set per key in Redis. */
export class RedisStartRate implements StartRate {
  constructor(
    private readonly redis: Redis,
    /** Every key starts with this (REDIS_KEY_PREFIX). */
    private readonly prefix: string,
    private readonly settings: StartRateSettings,
  ) {}

  private startsKey(key: string): string {
    return `${this.prefix}jobs:key-starts:${key}`;
  }

  async take(key: string, token: string): Promise<number> {
    const wait = await this.redis.eval(
      TAKE_START,
      1,
      this.startsKey(key),
      String(this.settings.windowMs),
      String(this.settings.limit),
      token,
    );
    return Number(wait);
  }

  async giveBack(key: string, token: string): Promise<void> {
    await this.redis.zrem(this.startsKey(key), token);
  }
}
