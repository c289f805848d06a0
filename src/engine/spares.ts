// Warm spares (WARM_SPARES): Claude Code processes started ahead of need, each inside its own wall with a default session's options, handed to a new session's first turn whose options match; replaced in the background, with backoff when they keep dying.
import { randomUUID } from 'node:crypto';
import { freemem } from 'node:os';
import { prewarm, type Options, type SpareProcess } from '@anthropic-ai/claude-agent-sdk';
import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import type { HookRelay } from './hook-relay.js';
import type { EffectiveOptions } from './options.js';
import { processStart, type ProcessStart, type WallPlan } from './process-spawn.js';

/** Free memory below which no spare is started, and below which idle spares are closed (a spare holds ~250 MB). */
const LOW_MEMORY_BYTES = 512 * 1024 * 1024;
/** Backoff after a spare failed to start or died idle: doubles from the first, up to the last. */
const BACKOFF_MS = [1_000, 60_000] as const;
const PREWARM_TIMEOUT_MS = 60_000;
/**
 * A used spare is replaced this long after the last turn ended, and not while a new session process is starting:
 * starting a spare costs about as much CPU as the cold start it would compete with.
 */
const REFILL_DELAY_MS = 1_000;

/** What the server prepares for one spare: its wall, folders and options (made by the session layer, which owns them). */
export interface SpareSetup {
  /** The prewarm options: a default session's, with hooks and permission callback relayed (see HookRelay). */
  options: Options;
  relay: HookRelay;
  /** The options of the default session the spare was started for: what a turn must match. */
  profile: EffectiveOptions;
  wall: WallPlan;
  /** The spare's workspace folder: where its process sees it (the claim's cwd), and where it stays inside its wall. */
  workspace: string;
  /** Its CLAUDE_CONFIG_DIR and temporary folder, as its process sees them. */
  configDir: string;
  tmpDir: string;
  /** Removes what an unclaimed spare holds (folders, proxy socket). */
  discard: () => Promise<void>;
}

export type SpareFactory = (spareId: string) => Promise<SpareSetup>;

/** What a new session's first turn asks of a spare. */
export interface SpareWant {
  options: EffectiveOptions;
  /** The session's template, if it has one. */
  template: string | null;
  /** The session runs in a working directory of its own choosing, not its workspace. */
  ownWorkingDir: boolean;
}

/** Where a spare's process reports: the spare pool until it is claimed, then the claiming session's runner. */
export interface SpareSink {
  stderr: (text: string) => void;
  killed: (reason: string) => void;
}

/** A first turn's outcome: 'refused' comes after 'claimed' when the spare then refused the claim (the turn ran cold). */
export type SpareClaimResult = 'claimed' | 'mismatch' | 'none' | 'refused';

/**
 * Why a spare started with `profile` cannot serve `want`, or undefined when it can. Every field of the options must
 * be equal: everything the SDK fixes at prewarm (tools, system prompt, output format, environment, turn and budget
 * limits) and the rest too (the model and permission mode could be set at claim, but a spare serves only what it
 * was started for, so a session never runs otherwise than it would have cold). All fields are compared, not a list,
 * so an option added to EffectiveOptions is never missed. A template or an own working directory is never served.
 */
export function spareMismatch(profile: EffectiveOptions, want: SpareWant): string | undefined {
  if (want.template !== null) return `the session uses the template ${want.template}`;
  if (want.ownWorkingDir) return 'the session runs in a working directory of its own';
  const spare: Record<string, unknown> = { ...profile };
  const asked: Record<string, unknown> = { ...want.options };
  for (const field of new Set([...Object.keys(spare), ...Object.keys(asked)])) {
    if (JSON.stringify(spare[field]) !== JSON.stringify(asked[field]))
      return `its ${field} (${JSON.stringify(asked[field])}) is not the spare's (${JSON.stringify(spare[field])})`;
  }
  return undefined;
}

type SpareState = 'starting' | 'ready' | 'taken' | 'closed';

/** One spare: its setup, its process once started, and who hears its process. */
export class Spare {
  state: SpareState = 'starting';
  setup: SpareSetup | undefined;
  process: SpareProcess | undefined;
  /** The started process (setpriv or bwrap, outside the wall). */
  child: ChildProcess | undefined;
  start: ProcessStart | undefined;
  private sink: SpareSink;
  readonly startedAt = Date.now();

  constructor(
    readonly id: string,
    idleSink: SpareSink,
  ) {
    this.sink = idleSink;
  }

  /** From now on the process reports to `sink` (the runner of the session that claimed it). */
  handTo(sink: SpareSink): void {
    this.sink = sink;
  }

  /** What the process start calls. */
  readonly relay: SpareSink = {
    stderr: (text) => this.sink.stderr(text),
    killed: (reason) => this.sink.killed(reason),
  };
}

export interface SparesStats {
  /** WARM_SPARES. */
  target: number;
  /** Started and waiting for a claim. */
  ready: number;
  /** Being started. */
  starting: number;
  /** Why none are kept; null when they are (or WARM_SPARES=0). */
  reason: string | null;
}

export class SparePool {
  private readonly spares = new Set<Spare>();
  private factory: SpareFactory | undefined;
  private reason: string | null = null;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly claimListeners: Array<(result: SpareClaimResult) => void> = [];

  constructor(
    /** WARM_SPARES. */
    readonly target: number,
    private readonly log: Logger,
    /** How many more live processes fit under MAX_LIVE_SESSIONS (session processes and spares together). */
    private readonly room: () => number,
  ) {}

  /** Starts keeping spares with `factory`; `undefined` with a reason: none are kept here (e.g. the wall cannot run). */
  use(factory: SpareFactory | undefined, reason: string | null = null): void {
    this.factory = factory;
    this.reason = factory || this.target === 0 ? null : reason;
    if (!factory && this.target > 0 && reason)
      this.log.warn(`WARM_SPARES is ${this.target} but no spare is kept: ${reason}`);
    this.refill();
  }

  /** Processes the spares hold (starting, ready, or taken and not yet a session's). */
  get count(): number {
    return this.spares.size;
  }

  stats(): SparesStats {
    let ready = 0;
    let starting = 0;
    for (const s of this.spares) {
      if (s.state === 'ready') ready++;
      else if (s.state === 'starting') starting++;
    }
    return { target: this.target, ready, starting, reason: this.reason };
  }

  /**
   * `listen` hears each first turn's outcome: served by a spare, refused by all (mismatch), or none ready; and
   * 'refused' when a spare it was served by refused the claim (the turn is then run on a cold process).
   */
  onClaim(listen: (result: SpareClaimResult) => void): void {
    this.claimListeners.push(listen);
  }

  /**
   * A ready spare for a new session's first turn, taken out of the pool, or undefined (why is logged at debug). The
   * caller makes it the session's (folders, proxy) and gives it to the runner pool, or closes it with `discard`.
   */
  take(sessionId: string, want: SpareWant): Spare | undefined {
    if (this.target === 0 || !this.factory) return undefined;
    let why: string | undefined;
    let chosen: Spare | undefined;
    for (const spare of this.spares) {
      if (spare.state !== 'ready' || !spare.setup) continue;
      why = spareMismatch(spare.setup.profile, want);
      if (why === undefined) {
        chosen = spare;
        break;
      }
    }
    const result: SpareClaimResult = chosen ? 'claimed' : why === undefined ? 'none' : 'mismatch';
    if (chosen) {
      chosen.state = 'taken';
      this.log.debug({ session: sessionId, spare: chosen.id }, 'first turn served by a warm spare');
    } else
      this.log.debug(
        { session: sessionId, reason: why ?? 'no spare is ready' },
        'first turn starts cold: no warm spare fits',
      );
    for (const listen of this.claimListeners) listen(result);
    return chosen;
  }

  /** A claimed spare refused the claim (nothing ran); the engine runs the turn again cold. */
  refused(sessionId: string, reason: string | undefined): void {
    this.log.info({ session: sessionId, reason }, 'a warm spare refused the claim; the first turn runs cold');
    for (const listen of this.claimListeners) listen('refused');
  }

  /** The runner pool has made the taken spare a session's process: it no longer counts as a spare. */
  adopted(spare: Spare): void {
    this.spares.delete(spare);
    this.failures = 0;
  }

  /**
   * Closes a spare and removes what it holds: one taken but not used (the session's folders could not be swapped, or
   * the turn ended first), or one the pool ends itself. Closing one already closed does nothing.
   */
  async discard(spare: Spare): Promise<void> {
    const wasClosed = spare.state === 'closed';
    spare.state = 'closed';
    this.spares.delete(spare);
    if (wasClosed) return;
    if (spare.process) {
      spare.process.close();
      await spare.process.exited.catch(() => undefined);
    }
    spare.start?.release();
    await spare.setup
      ?.discard()
      .catch((err: unknown) => this.log.warn({ err, spare: spare.id }, 'spare cleanup failed'));
  }

  /** Closes one spare to make room for a session's process; false when none is held. */
  async closeOne(): Promise<boolean> {
    const victim =
      [...this.spares].find((s) => s.state === 'starting') ?? [...this.spares].find((s) => s.state === 'ready');
    if (!victim) return false;
    this.log.info({ spare: victim.id }, 'closing a warm spare to make room for a session process');
    await this.discard(victim);
    return true;
  }

  /** Makes up for used spares in the background, REFILL_DELAY_MS from now unless a process start defers it. */
  refill(): void {
    if (this.closing || !this.factory || this.target === 0) return;
    clearTimeout(this.refillTimer);
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.fill();
    }, REFILL_DELAY_MS);
    this.refillTimer.unref();
  }

  /** A session's process is starting cold: a pending refill waits for the next `refill` (when its turn has ended). */
  defer(): void {
    clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
  }

  /** Starts spares up to WARM_SPARES when there is room and memory; never waits for them. */
  private fill(): void {
    if (this.closing || !this.factory || this.retryTimer) return;
    if (freemem() < LOW_MEMORY_BYTES) {
      void this.shedForMemory();
      return;
    }
    let missing = this.target - this.spares.size;
    let room = this.room();
    while (missing > 0 && room > 0) {
      missing--;
      room--;
      void this.startOne(this.factory);
    }
  }

  async closeAll(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.refillTimer);
    await Promise.all([...this.spares].map((s) => this.discard(s)));
  }

  private async shedForMemory(): Promise<void> {
    for (const s of [...this.spares]) {
      if (s.state !== 'ready' && s.state !== 'starting') continue;
      this.log.warn({ spare: s.id }, 'free memory is low; closing a warm spare');
      await this.discard(s);
    }
  }

  private async startOne(factory: SpareFactory): Promise<void> {
    const spare = new Spare(`spare-${randomUUID()}`, {
      stderr: () => undefined,
      killed: (reason) => this.log.warn({ spare: spare.id }, `ending a warm spare's wall: ${reason}`),
    });
    this.spares.add(spare);
    try {
      spare.setup = await factory(spare.id);
      const start = processStart(spare.setup.wall, spare.relay.stderr, spare.relay.killed, (child) => {
        // The SDK's prewarm and claim each listen for its exit several times, and so do the wall and the runner: more
        // than Node's default of 10 for one process, which is no leak (one process, one set).
        child.setMaxListeners(32);
        spare.child = child;
      });
      spare.start = start;
      const process = await prewarm({
        options: { ...spare.setup.options, includePartialMessages: true, ...start.options },
        initializeTimeoutMs: PREWARM_TIMEOUT_MS,
      });
      spare.process = process;
      void process.exited.then(() => this.onExit(spare));
      if (spare.state === 'closed') {
        process.close();
        return;
      }
      spare.state = 'ready';
      this.log.debug({ spare: spare.id, ms: Date.now() - spare.startedAt }, 'warm spare ready');
    } catch (err) {
      if (spare.state === 'closed') return;
      this.log.warn({ err, spare: spare.id }, 'a warm spare could not start');
      await this.discard(spare);
      this.backOff();
    }
  }

  /** A spare's process ended: a taken one is its session's business; an idle one that died is replaced after a backoff. */
  private onExit(spare: Spare): void {
    if (spare.state === 'taken') return;
    const died = spare.state !== 'closed';
    void this.discard(spare).then(() => {
      if (!died || this.closing) return;
      this.log.warn({ spare: spare.id }, 'an idle warm spare died; replacing it');
      this.backOff();
    });
  }

  private backOff(): void {
    if (this.closing) return;
    const delay = Math.min(BACKOFF_MS[0] * 2 ** this.failures, BACKOFF_MS[1]);
    this.failures++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.fill();
    }, delay);
    this.retryTimer.unref();
  }
}
