// The live Claude Code processes: at most MAX_LIVE_SESSIONS (and MAX_LIVE_SESSIONS_PER_KEY per key), least recently used idle one closed first, idle ones closed after a while.
import type { Logger } from 'pino';
import { EngineError } from './errors.js';
import { discardWall } from './process-spawn.js';
import { SessionRunner, type RunnerLaunch, type Supervision } from './runner.js';
import type { SparePool } from './spares.js';

/**
 * Who may run a session's process, when several nodes share the sessions (the cluster's leases): `claim` before a
 * process starts (throws the `owned_elsewhere` EngineError when another node runs it), `release` once it is gone.
 */
export interface SessionClaims {
  claim(sessionId: string): Promise<void>;
  release(sessionId: string): void;
}

export class RunnerPool {
  private readonly runners = new Map<string, SessionRunner>();
  /** The owner (key) whose turn started each live process. */
  private readonly owners = new Map<string, string>();
  private readonly sweeper: NodeJS.Timeout;
  /** The warm spares: they count against the capacity and are the first closed to make room. */
  spares: SparePool | undefined;

  constructor(
    private readonly capacity: number,
    private readonly idleMs: number,
    private readonly log: Logger,
    /** Most live processes one owner may hold (MAX_LIVE_SESSIONS_PER_KEY); the whole capacity by default. */
    private readonly perOwner = capacity,
    private readonly supervision?: Supervision,
    private readonly claims?: SessionClaims,
  ) {
    this.sweeper = setInterval(() => void this.closeIdle(), Math.min(Math.max(idleMs / 4, 50), 30_000));
    this.sweeper.unref();
  }

  get size(): number {
    return this.runners.size;
  }

  get busy(): number {
    let n = 0;
    for (const r of this.runners.values()) if (r.state === 'busy') n++;
    return n;
  }

  /** Live processes of sessions and spares together, against MAX_LIVE_SESSIONS. */
  get held(): number {
    return this.runners.size + (this.spares?.count ?? 0);
  }

  /** How many more processes (of sessions or spares) fit. */
  get room(): number {
    return Math.max(0, this.capacity - this.held);
  }

  has(sessionId: string): boolean {
    return this.runners.has(sessionId);
  }

  /** Live processes the owner holds. */
  heldBy(owner: string): number {
    let n = 0;
    for (const o of this.owners.values()) if (o === owner) n++;
    return n;
  }

  /**
   * The session's live runner if its options still fit, else a new one (resuming the conversation); reserved (busy)
   * for the caller, who must `run` a turn on it. A new one first closes the owner's least recently used idle process
   * when the owner holds its share, then anyone's when the pool is full.
   */
  async obtain(sessionId: string, launch: RunnerLaunch, owner = ''): Promise<SessionRunner> {
    const existing = this.runners.get(sessionId);
    if (
      existing &&
      existing.state !== 'closed' &&
      existing.optionsKey === launch.optionsKey &&
      existing.fitsBudget(launch.options.maxBudgetUsd)
    ) {
      existing.state = 'busy'; // reserved for the caller's turn, so no one evicts it first
      await this.discardLaunch(launch);
      return existing;
    }
    if (existing) await this.close(sessionId);
    try {
      await this.makeRoom(owner, launch.spare !== undefined);
    } catch (err) {
      await this.discardLaunch(launch);
      throw err;
    }
    // Several nodes: the session's lease first, so no other node runs it meanwhile (refused if one does).
    if (this.claims) {
      try {
        await this.claims.claim(sessionId);
      } catch (err) {
        await this.discardLaunch(launch);
        throw err;
      }
    }
    // A taken spare was counted among the spares until now: it becomes this session's process.
    if (launch.spare) this.spares?.adopted(launch.spare);
    const runner = new SessionRunner(sessionId, launch, this.log, this.supervision);
    runner.state = 'busy';
    this.runners.set(sessionId, runner);
    this.owners.set(sessionId, owner);
    void runner.exited.then(() => {
      if (this.runners.get(sessionId) !== runner) return;
      this.runners.delete(sessionId);
      this.owners.delete(sessionId);
      this.claims?.release(sessionId);
    });
    return runner;
  }

  /** Closes what a launch holds when no process is started from it: its wall's workspace descriptor and its taken spare. */
  async discardLaunch(launch: RunnerLaunch): Promise<void> {
    discardWall(launch.wall);
    if (launch.spare) await this.spares?.discard(launch.spare);
  }

  /** Closes the owner's idle processes past its share, then spares, then anyone's idle ones, until one more fits. */
  private async makeRoom(owner: string, claiming: boolean): Promise<void> {
    while (this.heldBy(owner) >= this.perOwner) {
      const victim = this.leastRecentlyUsedIdle(owner);
      if (!victim)
        throw new EngineError(
          'overloaded',
          `This API key already holds ${this.perOwner} live Claude Code processes (MAX_LIVE_SESSIONS_PER_KEY), all busy.`,
          { retryAfterSeconds: 5 },
        );
      this.log.info({ session: victim.sessionId }, "closing the key's least recently used idle session process");
      await this.close(victim.sessionId);
    }
    // A spare being claimed is counted among the spares already: its process needs no place of its own.
    while (this.held - (claiming ? 1 : 0) >= this.capacity) {
      if (await this.spares?.closeOne()) continue;
      const victim = this.leastRecentlyUsedIdle();
      if (!victim) {
        throw new EngineError('overloaded', `All ${this.capacity} live Claude Code processes are busy.`, {
          retryAfterSeconds: 5,
        });
      }
      this.log.info({ session: victim.sessionId }, 'closing least recently used idle session process');
      await this.close(victim.sessionId);
    }
  }

  async close(sessionId: string): Promise<void> {
    const runner = this.runners.get(sessionId);
    if (!runner) return;
    this.runners.delete(sessionId);
    this.owners.delete(sessionId);
    await runner.close();
    this.claims?.release(sessionId);
  }

  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    this.supervision?.ceiling.close();
    await Promise.all([...this.runners.keys()].map((id) => this.close(id)));
    await this.spares?.closeAll();
  }

  /** The idle process unused the longest: the owner's when one is named, else anyone's. */
  private leastRecentlyUsedIdle(owner?: string): SessionRunner | undefined {
    let victim: SessionRunner | undefined;
    for (const r of this.runners.values()) {
      if (owner !== undefined && this.owners.get(r.sessionId) !== owner) continue;
      if (r.state === 'idle' && (!victim || r.lastUsedAt < victim.lastUsedAt)) victim = r;
    }
    return victim;
  }

  private async closeIdle(): Promise<void> {
    const now = Date.now();
    for (const r of [...this.runners.values()]) {
      if (r.state === 'idle' && now - r.lastUsedAt >= this.idleMs) {
        this.log.info({ session: r.sessionId }, 'closing idle session process');
        await this.close(r.sessionId);
      }
    }
  }
}
