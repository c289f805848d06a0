// The rate-limit counters: in Redis (REDIS_URL) under `<prefix>rl:<who>`, falling back to this process's memory while Redis fails, never to no limit.
import type { Redis } from 'ioredis';

type Counted = { current: number; ttl: number };
type Callback = (error: Error | null, result?: Counted) => void;

/** Most counters kept in memory; expired ones are swept when it is reached. */
const MEMORY_LIMIT = 50_000;

/** One fixed window per key: INCR, and the window starts with the first hit. */
const INCR_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); t = tonumber(ARGV[1]) end
return {c, t}`;

/** Fixed-window counters in this process. */
export class MemoryCounters {
  readonly #counters = new Map<string, { count: number; resetAt: number }>();

  incr(key: string, windowMs: number, now = Date.now()): Counted {
    let entry = this.#counters.get(key);
    if (!entry || entry.resetAt <= now) {
      if (this.#counters.size >= MEMORY_LIMIT) this.#sweep(now);
      entry = { count: 0, resetAt: now + windowMs };
      this.#counters.set(key, entry);
    }
    entry.count += 1;
    return { current: entry.count, ttl: entry.resetAt - now };
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#counters) if (entry.resetAt <= now) this.#counters.delete(key);
    // Still full of live windows: drop the oldest rather than grow without bound.
    if (this.#counters.size >= MEMORY_LIMIT) {
      const oldest = this.#counters.keys().next();
      if (!oldest.done) this.#counters.delete(oldest.value);
    }
  }
}

export interface CounterStoreOptions {
  redis?: Redis;
  /** Prefix of every counter key, `<REDIS_KEY_PREFIX>rl:`. */
  nameSpace: string;
  /** Called when a Redis call fails and memory counts instead (the caller logs it, at most now and then). */
  onFallback?: (err: Error) => void;
}

/**
 * A store for @fastify/rate-limit (its `store` option takes a class). Every limiter made from it (the global one and
 * the ones made with createRateLimit) shares the same key space, so a key is exactly `<nameSpace><generated key>`.
 */
export function counterStore(options: CounterStoreOptions) {
  const memory = new MemoryCounters();
  return class CounterStore {
    incr(key: string, callback: Callback, timeWindow: number): void {
      const fullKey = `${options.nameSpace}${key}`;
      const fallback = (err: Error) => {
        options.onFallback?.(err);
        callback(null, memory.incr(fullKey, timeWindow));
      };
      if (!options.redis) {
        callback(null, memory.incr(fullKey, timeWindow));
        return;
      }
      options.redis.eval(INCR_SCRIPT, 1, fullKey, String(timeWindow)).then((result) => {
        // The script answers integers; Number() also covers a client that hands them back as strings.
        const [current, ttl] = result as [unknown, unknown];
        callback(null, { current: Number(current), ttl: Number(ttl) });
      }, fallback);
    }

    child(): this {
      return this;
    }
  };
}
