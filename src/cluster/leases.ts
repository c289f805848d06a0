// Session leases in Redis: a session's process runs on the one node holding its lease (SET NX PX), renewed while it lives, with an epoch that grows on every new owner.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { EngineError } from '../engine/errors.js';
import type { SessionClaims } from '../engine/engine.js';

/** Takes the lease when free (a new epoch), extends it when this node holds it; else answers the holder. */
const CLAIM = `
local cur = redis.call('get', KEYS[1])
if cur then
  local node, epoch = string.match(cur, '^(.*)|(%d+)$')
  if node == ARGV[1] then
    redis.call('pexpire', KEYS[1], ARGV[2])
    return {'mine', epoch}
  end
  return {'taken', epoch, node}
end
local epoch = redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
return {'new', tostring(epoch)}
`;
/**
 * Moves a lease this node holds at ARGV[1] past an epoch the database already recorded (ARGV[3]: Redis lost its
 * epoch counter, as after a restart without persistence): the counter jumps past it and the lease takes the new epoch.
 */
const SKIP = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return false end
local epoch = math.max(redis.call('incr', KEYS[2]), tonumber(ARGV[3]) + 1)
redis.call('set', KEYS[2], epoch)
redis.call('set', KEYS[1], ARGV[2] .. '|' .. epoch, 'KEEPTTL')
return tostring(epoch)
`;
/** Extends the lease only while it is still this node's at this epoch (compare-and-extend). */
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
/** Deletes the lease only while it is still this node's at this epoch (compare-and-delete). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export interface LeaseOwner {
  node: string;
  epoch: number;
  /** How long the lease still lasts unless renewed, ms. */
  ttlMs: number;
}

export interface ClaimOutcome {
  /** This node holds the lease now. */
  held: boolean;
  epoch: number;
  /** The lease was free and this node took it (a first owner, or a takeover after a release or a lapse). */
  fresh: boolean;
  /** The holder when another node has it. */
  owner?: string;
}

export interface LeaseOptions {
  redis: Redis;
  keyPrefix: string;
  nodeId: string;
  leaseMs: number;
  log: Logger;
  /** Whether this node still uses the session (a live process or a turn running or waiting): its lease is kept. */
  inUse: (sessionId: string) => boolean;
  /**
   * Records in the database that this node claimed the session at `epoch` (the fence its writes are conditioned on),
   * before anything else runs on the claim; answers the session's recorded epoch afterwards (undefined: no such
   * session). A recorded epoch above the claimed one means Redis lost its epoch counter: the lease moves past it.
   */
  recordEpoch?: (sessionId: string, epoch: number) => Promise<number | undefined>;
  /**
   * Runs after this node took a free lease, or found one of its node id it did not know of (recovers what a dead
   * owner left unfinished), before the claim returns.
   */
  onFresh?: (sessionId: string, epoch: number) => Promise<void>;
  /** Runs when this node finds it lost a lease it held (it must stop running the session). */
  onLost?: (sessionId: string) => void;
  /**
   * Runs when another node could not claim a session this node holds (a job, or a request that is not forwarded):
   * this node should let the session go once its process is idle, so the other can take it.
   */
  onReleaseAsked?: (sessionId: string) => void;
}

interface Held {
  epoch: number;
  claimedAt: number;
  /** Settles once `onFresh` ran for this claim: a second claim of the same lease waits for it too. */
  ready: Promise<void>;
}

export class SessionLeases implements SessionClaims {
  /** The lease's value in Redis while this node holds it at `epoch`: `node|epoch`. */
  private valueOf(epoch: number): string {
    return `${this.opts.nodeId}|${String(epoch)}`;
  }

  private readonly held = new Map<string, Held>();
  private readonly timer: NodeJS.Timeout;

  /** The connection that hears release requests (a subscribed connection can do nothing else). */
  private readonly subscriber: Redis;

  constructor(private readonly opts: LeaseOptions) {
    this.timer = setInterval(() => void this.renewAll(), Math.max(100, Math.floor(opts.leaseMs / 3)));
    this.timer.unref();
    // Its own connection, which may queue the SUBSCRIBE until it is up (the shared one fails fast instead).
    this.subscriber = opts.redis.duplicate({ lazyConnect: false, enableOfflineQueue: true });
    this.subscriber.on('error', (err) => opts.log.warn({ err }, 'session release channel: Redis error'));
    this.subscriber.on('message', (_channel, text) => {
      const ask = parseReleaseAsk(text);
      if (ask?.to === opts.nodeId && this.held.has(ask.session)) opts.onReleaseAsked?.(ask.session);
    });
    void this.subscriber.subscribe(this.releaseChannel).catch((err: unknown) => {
      opts.log.warn({ err }, 'could not listen for session release requests');
    });
  }

  private get releaseChannel(): string {
    return `${this.opts.keyPrefix}cluster:release`;
  }

  /** How many session leases this node holds. */
  get count(): number {
    return this.held.size;
  }

  private key(sessionId: string): string {
    return `${this.opts.keyPrefix}lease:${sessionId}`;
  }

  /** Takes or extends the session's lease; `held: false` names the node that has it. */
  async tryClaim(sessionId: string): Promise<ClaimOutcome> {
    const { redis, nodeId, leaseMs } = this.opts;
    const reply = (await redis.eval(
      CLAIM,
      2,
      this.key(sessionId),
      `${this.opts.keyPrefix}epoch:${sessionId}`,
      nodeId,
      String(leaseMs),
    )) as string[];
    const [status, epochText, owner] = reply;
    let epoch = Number(epochText);
    if (status === 'taken') return { held: false, epoch, fresh: false, owner };
    const fresh = status === 'new';
    const previous = this.held.get(sessionId);
    if (fresh || previous?.epoch !== epoch) {
      // Also a lease of this node id that this process does not know: a previous run of the node left it.
      const recover = fresh || previous === undefined;
      const claimed = this.settle(sessionId, epoch, recover);
      const entry: Held = {
        epoch,
        claimedAt: Date.now(),
        ready: claimed.then(
          () => undefined,
          () => undefined,
        ),
      };
      this.held.set(sessionId, entry);
      try {
        epoch = await claimed;
      } catch (err) {
        // Not recorded, or not recovered: the next claim of the lease tries again.
        if (this.held.get(sessionId) === entry) this.held.delete(sessionId);
        throw err;
      }
    } else {
      await previous.ready;
      const settled = this.held.get(sessionId);
      // The claim this one joined failed (its epoch not recorded): this one fails too, the next tries again.
      if (!settled) throw new Error(`the lease of session ${sessionId} could not be claimed; retry`);
      epoch = settled.epoch;
    }
    return { held: true, epoch, fresh };
  }

  /**
   * What a new claim at `epoch` does before it is used: the epoch recorded in the database (past the one recorded
   * there, should Redis have forgotten its counter), then, for a lease that was free or unknown here, `onFresh`.
   * Resolves with the epoch the lease ends up at.
   */
  private async settle(sessionId: string, claimed: number, recover: boolean): Promise<number> {
    let epoch = claimed;
    const recorded = await this.opts.recordEpoch?.(sessionId, epoch);
    if (recorded !== undefined && recorded > epoch) {
      const moved = (await this.opts.redis.eval(
        SKIP,
        2,
        this.key(sessionId),
        `${this.opts.keyPrefix}epoch:${sessionId}`,
        `${this.opts.nodeId}|${String(epoch)}`,
        this.opts.nodeId,
        String(recorded),
      )) as string | null;
      if (moved === null) throw new Error(`the lease of session ${sessionId} was lost while it was being claimed`);
      this.opts.log.warn(
        { session: sessionId, epoch, recorded },
        'the database recorded a later lease epoch than Redis handed out (Redis lost its epoch counter): moved the lease past it',
      );
      epoch = Number(moved);
      const held = this.held.get(sessionId);
      if (held) {
        held.epoch = epoch;
      }
      await this.opts.recordEpoch?.(sessionId, epoch);
    }
    if (recover) await this.opts.onFresh?.(sessionId, epoch);
    return epoch;
  }

  /** The engine's claim before it starts a session's process: refused (409) while another node holds the session. */
  async claim(sessionId: string): Promise<void> {
    const outcome = await this.tryClaim(sessionId);
    if (!outcome.held && outcome.owner !== undefined) {
      // The owner lets it go once idle, so a retry (a job's, or the client's) can take it.
      const ask: ReleaseAsk = { session: sessionId, to: outcome.owner, from: this.opts.nodeId };
      void this.opts.redis.publish(this.releaseChannel, JSON.stringify(ask)).catch(() => undefined);
    }
    if (!outcome.held)
      throw new EngineError(
        'owned_elsewhere',
        `This session runs on node ${outcome.owner ?? '?'} of the cluster; retry, the request is forwarded there.`,
        { retryAfterSeconds: 1 },
      );
  }

  /** The engine's release once the session's process is gone; the lease stays while a turn still uses the session. */
  release(sessionId: string): void {
    if (this.opts.inUse(sessionId)) return;
    void this.drop(sessionId);
  }

  /** This node's epoch of the session's lease, if it holds it. */
  epochOf(sessionId: string): number | undefined {
    return this.held.get(sessionId)?.epoch;
  }

  /**
   * Whether no other node took the session since this node's `epoch` (what fencing checks before a late write): the
   * lease is this node's, or free with no later epoch handed out meanwhile. A lease released a moment ago by this
   * node's own process exit does not fence its turn out.
   */
  async stillOwner(sessionId: string, epoch: number): Promise<boolean> {
    const [value, latest] = await this.opts.redis.mget(this.key(sessionId), `${this.opts.keyPrefix}epoch:${sessionId}`);
    // Held: by this node (at this epoch, or a later one it claimed itself), else by the node that took it over.
    if (value != null) return value.startsWith(`${this.opts.nodeId}|`);
    return Number(latest ?? 0) <= epoch;
  }

  /** The node holding the session's lease, if any. */
  async ownerOf(sessionId: string): Promise<LeaseOwner | undefined> {
    const key = this.key(sessionId);
    const [value, ttl] = await Promise.all([this.opts.redis.get(key), this.opts.redis.pttl(key)]);
    if (value === null) return undefined;
    const m = /^(.*)\|(\d+)$/.exec(value);
    if (!m) return undefined;
    return { node: m[1]!, epoch: Number(m[2]), ttlMs: Math.max(0, ttl) };
  }

  /** Stops renewing and releases every lease this node holds (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.subscriber.disconnect();
    await Promise.all([...this.held.keys()].map((id) => this.drop(id)));
  }

  private async drop(sessionId: string): Promise<void> {
    const held = this.held.get(sessionId);
    if (!held) return;
    this.held.delete(sessionId);
    try {
      await this.opts.redis.eval(RELEASE, 1, this.key(sessionId), this.valueOf(held.epoch));
    } catch (err) {
      this.opts.log.warn({ err, session: sessionId }, 'could not release a session lease; it lapses on its own');
    }
  }

  /** Renews the leases still in use (and those claimed within one lease period, for a turn about to start); drops the rest. */
  private async renewAll(): Promise<void> {
    const now = Date.now();
    for (const [sessionId, held] of [...this.held]) {
      if (!this.opts.inUse(sessionId) && now - held.claimedAt > this.opts.leaseMs) {
        await this.drop(sessionId);
        continue;
      }
      try {
        const ok = await this.opts.redis.eval(
          RENEW,
          1,
          this.key(sessionId),
          this.valueOf(held.epoch),
          String(this.opts.leaseMs),
        );
        if (ok === 0 && this.held.get(sessionId) === held) {
          this.held.delete(sessionId);
          this.opts.log.error(
            { session: sessionId, epoch: held.epoch },
            'lost the lease of a session this node runs (it lapsed); stopping its process',
          );
          this.opts.onLost?.(sessionId);
        }
      } catch (err) {
        this.opts.log.warn({ err, session: sessionId }, 'could not renew a session lease; retrying');
      }
    }
  }
}

/** A node's request that the owner of a session let it go when idle. */
interface ReleaseAsk {
  session: string;
  /** The owner node's id. */
  to: string;
  from: string;
}

function parseReleaseAsk(text: string): ReleaseAsk | undefined {
  try {
    const v = JSON.parse(text) as Partial<ReleaseAsk>;
    return typeof v.session === 'string' && typeof v.to === 'string' && typeof v.from === 'string'
      ? { session: v.session, to: v.to, from: v.from }
      : undefined;
  } catch {
    return undefined;
  }
}
