// Locks in Redis that hold across nodes: one job at a time per session, at most N jobs at a time per key; each with a TTL so a dead node's claim lapses.
import type { Redis } from 'ioredis';

/** Deletes the lock only if it still holds this token. */
const UNLOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Extends the lock only if it still holds this token. */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/** Takes the lock when it is free or held by a holder whose token starts with ARGV[2] (a past life of this node). */
const TAKE_OVER = `
local v = redis.call('get', KEYS[1])
if (not v) or string.sub(v, 1, string.len(ARGV[2])) == ARGV[2] then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0`;
/**
 * A counting semaphore as a sorted set (member: holder, score: when its hold lapses): drops lapsed holders, then
 * renews this holder or adds it when there is room. Returns 1 when held.
 */
const TAKE_SLOT = `
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
if redis.call('zscore', KEYS[1], ARGV[3]) or redis.call('zcard', KEYS[1]) < tonumber(ARGV[4]) then
  redis.call('zadd', KEYS[1], ARGV[2], ARGV[3])
  redis.call('pexpire', KEYS[1], ARGV[5])
  return 1
end
return 0`;

export class RedisLocks {
  constructor(
    private readonly redis: Redis,
    /** Every key starts with this (REDIS_KEY_PREFIX). */
    private readonly prefix: string,
    /** How long a claim lasts without being renewed (a dead node's claims lapse after this). */
    private readonly ttlMs: number,
  ) {}

  private sessionKey(sessionId: string): string {
    return `${this.prefix}jobs:session-lock:${sessionId}`;
  }

  private slotsKey(key: string): string {
    return `${this.prefix}jobs:key-slots:${key}`;
  }

  /** Takes the session's lock for `token`; false when another holds it. */
  async lockSession(sessionId: string, token: string): Promise<boolean> {
    return (await this.redis.set(this.sessionKey(sessionId), token, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /**
   * Takes the session's lock for `token` when it is free, or held by a token that starts with `pastPrefix` (this
   * node's NODE_ID: a run of a previous life of this node, which cannot be alive since NODE_IDs are unique).
   */
  async takeOverSession(sessionId: string, token: string, pastPrefix: string): Promise<boolean> {
    return (
      (await this.redis.eval(TAKE_OVER, 1, this.sessionKey(sessionId), token, pastPrefix, String(this.ttlMs))) === 1
    );
  }

  /** Extends the session's lock; false if it was lost (lapsed and taken by another). */
  async renewSession(sessionId: string, token: string): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.sessionKey(sessionId), token, String(this.ttlMs))) === 1;
  }

  async unlockSession(sessionId: string, token: string): Promise<void> {
    await this.redis.eval(UNLOCK, 1, this.sessionKey(sessionId), token);
  }

  /** Takes (or renews) one of the key's `limit` places for `holder`; false when they are all held by others. */
  async takeSlot(key: string, holder: string, limit: number): Promise<boolean> {
    const now = Date.now();
    const result = await this.redis.eval(
      TAKE_SLOT,
      1,
      this.slotsKey(key),
      String(now),
      String(now + this.ttlMs),
      holder,
      String(limit),
      String(this.ttlMs * 2),
    );
    return result === 1;
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    await this.redis.zrem(this.slotsKey(key), holder);
  }
}
