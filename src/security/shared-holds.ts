// The money held by running turns, kept in Redis when several nodes serve one budget: the check against the ledger and the hold are one atomic step for every node.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Holds the amount unless a settle moved the account since `version` was read (the ledger total read meanwhile may
 * miss it: read again), or the spend plus what is held reaches the limit. Expired holds (of a node that died) go first.
 * KEYS: holds (sorted set, member `<id>|<usd>`, score = expiry ms), version. ARGV: now, id, spent, limit, cap, version, expiry.
 */
const HOLD = `
if tonumber(redis.call('get', KEYS[2]) or '0') ~= tonumber(ARGV[6]) then return {'stale'} end
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])
local held = 0
for _, m in ipairs(redis.call('zrange', KEYS[1], 0, -1)) do
  held = held + tonumber(string.match(m, '|(.*)$'))
end
local spent = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
if spent + held >= limit then return {'refused', tostring(held)} end
local amount = math.min(tonumber(ARGV[5]), limit - spent - held)
local member = ARGV[2] .. '|' .. string.format('%.12f', amount)
redis.call('zadd', KEYS[1], ARGV[7], member)
redis.call('pexpireat', KEYS[1], ARGV[7])
return {'held', member}
`;
/** Frees a hold and moves the account's version (its settle is in the ledger now, or it never started). */
const FREE = `
redis.call('zrem', KEYS[1], ARGV[1])
redis.call('incr', KEYS[2])
redis.call('pexpire', KEYS[2], ARGV[2])
return 1
`;

export type HoldOutcome = { held: true; member: string } | { held: false; heldUsd: number } | { stale: true };

export class SharedHolds {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    /** How long a hold lasts at most (a node that died never frees its holds), ms. */
    private readonly maxHoldMs: number,
  ) {}

  private keys(account: string): [string, string] {
    return [`${this.keyPrefix}budget:holds:${account}`, `${this.keyPrefix}budget:version:${account}`];
  }

  /** The account's version: read it before the ledger total, and hand it to `hold`. */
  async version(account: string): Promise<number> {
    return Number((await this.redis.get(this.keys(account)[1])) ?? 0);
  }

  async hold(account: string, spent: number, limit: number, cap: number, version: number): Promise<HoldOutcome> {
    const now = Date.now();
    const reply = (await this.redis.eval(
      HOLD,
      2,
      ...this.keys(account),
      String(now),
      randomUUID(),
      String(spent),
      String(limit),
      String(Number.isFinite(cap) ? cap : 1e300),
      String(version),
      String(now + this.maxHoldMs),
    )) as string[];
    if (reply[0] === 'stale') return { stale: true };
    if (reply[0] === 'refused') return { held: false, heldUsd: Number(reply[1]) };
    return { held: true, member: reply[1]! };
  }

  async free(account: string, member: string): Promise<void> {
    await this.redis.eval(FREE, 2, ...this.keys(account), member, String(this.maxHoldMs));
  }

  /** USD the account's running turns hold on every node. */
  async heldBy(account: string): Promise<number> {
    const members = await this.redis.zrangebyscore(this.keys(account)[0], Date.now(), '+inf');
    return members.reduce((sum, m) => sum + Number(m.slice(m.indexOf('|') + 1)), 0);
  }
}
