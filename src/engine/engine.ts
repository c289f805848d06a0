// The engine's front door: submits turns (session queue → turn slot → live process), keeps recent turns for replay, shuts down cleanly.
import type { Logger } from 'pino';
import { ProblemError } from '../problems.js';
import { EngineError, LAUNCH_REFUSALS } from './errors.js';
import { RunnerPool, type SessionClaims } from './pool.js';

export type { SessionClaims } from './pool.js';
import type { RunnerLaunch, TurnLimits } from './runner.js';
import { SessionQueue } from './session-queue.js';
import { SparePool, type SparesStats } from './spares.js';
import { MemoryCeiling, type ExitListener } from './supervisor.js';
import { Turn } from './turn.js';
import { TurnSlots } from './turn-slots.js';

export interface EngineSettings {
  maxLiveSessions: number;
  /** Most live processes one key holds (MAX_LIVE_SESSIONS_PER_KEY); MAX_LIVE_SESSIONS when unset. */
  maxLiveSessionsPerKey?: number;
  sessionIdleMs: number;
  maxConcurrentTurns: number;
  /** Most turns one key runs at once (MAX_CONCURRENT_TURNS_PER_KEY); MAX_CONCURRENT_TURNS when unset. */
  maxConcurrentTurnsPerKey?: number;
  turnQueueTimeoutMs: number;
  sessionQueueLimit: number;
  replayMs: number;
  timeoutMs: number;
  /** TURN_STALL_SECONDS, ms (0: no stall watchdog). */
  stallMs: number;
  /** CLI_MAX_RSS_MB, bytes (0: no ceiling). */
  maxRssBytes: number;
  /** WARM_SPARES: processes kept started ahead of new sessions' first turns (0: none). */
  warmSpares?: number;
}

export interface TurnRequest {
  sessionId: string;
  /** Whose fair share of turn slots and live processes the turn uses (the acting key, else the tenant). */
  owner?: string;
  message: string;
  /** The session's last persisted event id: this turn's ids continue after it. */
  lastEventId: number;
  /**
   * Called when the turn is about to run, so it sees the session as it is then. `cold`: the launch must not take a
   * warm spare (the one it took refused the claim; the turn is run again on a process of its own).
   */
  prepare: (opts?: { cold?: boolean }) => Promise<RunnerLaunch>;
  /** Runs when the turn starts, before the message reaches Claude Code (e.g. to record it). */
  onStart?: (turn: Turn) => Promise<void>;
  /** Runs when a turn that started has ended, before the session's next turn may start. */
  onEnd?: (turn: Turn) => Promise<void>;
}

/** Watches every turn of the engine (metrics, logs): called after a turn starts and after it ended. */
export interface TurnObserver {
  started?(turn: Turn): void;
  ended?(turn: Turn): void;
}

export interface EngineStats {
  live_processes: number;
  busy_processes: number;
  turns_running: number;
  turns_waiting: number;
  draining: boolean;
  /** The warm spares (WARM_SPARES). */
  spares: SparesStats;
}

export class Engine {
  private readonly pool: RunnerPool;
  /** The warm spares; the server gives them their factory (`spares.use`) once the wall is known. */
  readonly spares: SparePool;
  private readonly slots: TurnSlots;
  private readonly queues = new Map<string, SessionQueue>();
  private readonly turns = new Map<string, Turn[]>();
  private readonly eventIds = new Map<string, number>();
  private draining = false;
  private readonly observers: TurnObserver[] = [];
  private readonly exitListeners: ExitListener[] = [];

  constructor(
    private readonly settings: EngineSettings,
    private readonly log: Logger,
    /** The cluster's session leases (several nodes); none on a single node. */
    claims?: SessionClaims,
  ) {
    this.pool = new RunnerPool(
      settings.maxLiveSessions,
      settings.sessionIdleMs,
      log,
      settings.maxLiveSessionsPerKey,
      {
        ceiling: new MemoryCeiling(settings.maxRssBytes),
        onExit: (exit) => {
          for (const listen of this.exitListeners) listen(exit);
        },
      },
      claims,
    );
    this.spares = new SparePool(settings.warmSpares ?? 0, log, () => this.pool.room);
    this.pool.spares = this.spares;
    this.slots = new TurnSlots(
      settings.maxConcurrentTurns,
      settings.turnQueueTimeoutMs,
      settings.maxConcurrentTurnsPerKey,
    );
  }

  stats(): EngineStats {
    return {
      live_processes: this.pool.size,
      busy_processes: this.pool.busy,
      turns_running: this.slots.inUse,
      turns_waiting: this.slots.waiting,
      draining: this.draining,
      spares: this.spares.stats(),
    };
  }

  /** `listen` hears how each Claude Code process ended (why, exit code or signal, stderr tail). */
  onProcessExit(listen: ExitListener): void {
    this.exitListeners.push(listen);
  }

  observe(observer: TurnObserver): void {
    this.observers.push(observer);
  }

  /** Queues a turn and returns it at once; its events and `done` tell the rest. */
  submit(req: TurnRequest): Turn {
    if (this.draining)
      throw new EngineError('shutting_down', 'The server is shutting down; no new turns start.', {
        retryAfterSeconds: 5,
      });
    this.prune(req.sessionId);
    const queue = this.queueOf(req.sessionId);
    if (this.turnsOf(req.sessionId).filter((t) => !t.finished).length > this.settings.sessionQueueLimit) {
      throw new EngineError(
        'session_busy',
        `A turn is running on this session and ${this.settings.sessionQueueLimit} more wait (SESSION_QUEUE_LIMIT).`,
      );
    }
    const turn = new Turn(req.sessionId, req.message);
    turn.owner = req.owner;
    this.turnsOf(req.sessionId).push(turn);
    this.eventIds.set(req.sessionId, Math.max(this.eventIds.get(req.sessionId) ?? 0, req.lastEventId));
    turn.settled = this.drive(turn, queue, req);
    return turn;
  }

  /** Interrupts the session's running turn and cancels its waiting ones; returns how many there were. */
  interruptAll(sessionId: string): number {
    const open = this.turnsOf(sessionId).filter((t) => !t.finished);
    for (const turn of open) turn.interrupt('client');
    return open.length;
  }

  /** Interrupts every running or waiting turn whose owner (acting key) this is, on any session; how many. */
  interruptOwnedBy(owner: string): number {
    let n = 0;
    for (const turns of this.turns.values())
      for (const turn of turns)
        if (turn.owner === owner && !turn.finished) {
          turn.interrupt('client');
          n++;
        }
    return n;
  }

  /** The session's next turn numbers its events after `eventId` at least (events another node published). */
  raiseEventFloor(sessionId: string, eventId: number): void {
    this.eventIds.set(sessionId, Math.max(this.eventIds.get(sessionId) ?? 0, eventId));
  }

  /** Whether the session has a live Claude Code process. */
  isLive(sessionId: string): boolean {
    return this.pool.has(sessionId);
  }

  /** The session's turn that has started and not ended (the one its process is working on). */
  runningTurn(sessionId: string): Turn | undefined {
    return this.turns.get(sessionId)?.find((t) => t.state === 'running');
  }

  /** The session's turn that is running or waiting, newest first. */
  currentTurn(sessionId: string): Turn | undefined {
    return this.turns.get(sessionId)?.findLast((t) => !t.finished);
  }

  /** The newest turn kept for the session (running or recently finished). */
  latestTurn(sessionId: string): Turn | undefined {
    this.prune(sessionId);
    return this.turns.get(sessionId)?.at(-1);
  }

  /** The kept turn that holds the event after `eventId` (a reconnect with Last-Event-ID). */
  turnAfterEvent(sessionId: string, eventId: number): Turn | undefined {
    this.prune(sessionId);
    return this.turns
      .get(sessionId)
      ?.find(
        (t) =>
          t.state !== 'queued' &&
          t.covers(eventId) &&
          (eventId < t.lastEventId || !t.finished || eventId === t.lastEventId),
      );
  }

  /** Interrupts the session's turns, waits for them to end and be recorded, closes its process, and forgets it. */
  async closeSession(sessionId: string): Promise<void> {
    const turns = [...this.turnsOf(sessionId)];
    for (const turn of turns) turn.interrupt('client');
    await Promise.all(turns.map((t) => t.settled));
    await this.pool.close(sessionId);
    this.turns.delete(sessionId);
    this.queues.delete(sessionId);
    this.eventIds.delete(sessionId);
  }

  /** Closes the session's process (not its turns' records): its next turn resumes in a new one. */
  async restartSession(sessionId: string): Promise<void> {
    await this.pool.close(sessionId);
  }

  /** Refuses new turns, lets running ones finish within `graceMs`, interrupts the rest, closes every process. */
  async shutdown(graceMs: number): Promise<void> {
    this.draining = true;
    await this.spares.closeAll();
    const open = () => [...this.turns.values()].flat().filter((t) => !t.finished);
    const allDone = () => Promise.all(open().map((t) => t.settled));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([allDone(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    const left = open();
    for (const turn of left) turn.interrupt('client');
    await Promise.race([
      Promise.all(left.map((t) => t.settled)),
      new Promise<void>((resolve) => setTimeout(resolve, 15_000).unref()),
    ]);
    await this.pool.closeAll();
  }

  private async drive(turn: Turn, queue: SessionQueue, req: TurnRequest): Promise<void> {
    let leaveQueue: (() => void) | undefined;
    let releaseSlot: (() => void) | undefined;
    const abort = new AbortController();
    void turn.done.then(
      () => abort.abort(),
      () => abort.abort(),
    );
    try {
      leaveQueue = await queue.enter();
      if (turn.finished) return;
      releaseSlot = await this.slots.acquire(abort.signal, { owner: req.owner });
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the turn may end while this awaits
      if (turn.finished) return;
      // A turn waiting for a person gives its slot back, and takes one again (waiting as long as it takes) to go on.
      turn.onWaiting(async (waiting) => {
        if (waiting) {
          releaseSlot?.();
          releaseSlot = undefined;
        } else if (!turn.finished) {
          const release = await this.slots
            .acquire(abort.signal, { patient: true, owner: req.owner })
            .catch(() => undefined);
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the turn may end while this awaits
          if (turn.finished) release?.();
          else releaseSlot = release;
        }
      });
      const launch = await req.prepare();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the turn may end while this awaits
      if (turn.finished) {
        await this.pool.discardLaunch(launch);
        return;
      }
      // A cold start about to happen: a spare's replacement waits, so the two do not compete for the CPU.
      if (!launch.spare && !this.pool.has(req.sessionId)) this.spares.defer();
      const runner = await this.pool.obtain(req.sessionId, launch, req.owner);
      turn.begin((this.eventIds.get(req.sessionId) ?? 0) + 1);
      this.notify('started', turn);
      await this.hook('start', req.onStart, turn);
      const limits: TurnLimits = { timeoutMs: this.settings.timeoutMs, stallMs: this.settings.stallMs };
      if ((await runner.run(turn, limits)) === 'spare_refused') {
        this.spares.refused(req.sessionId, runner.spareRefusal);
        await this.runCold(turn, req, limits);
      }
    } catch (err) {
      const error =
        err instanceof EngineError
          ? err
          : err instanceof ProblemError && err.status === 404
            ? new EngineError('session_gone', err.message)
            : err instanceof ProblemError && LAUNCH_REFUSALS[err.slug]
              ? new EngineError(LAUNCH_REFUSALS[err.slug]!, err.message)
              : new EngineError('process_failed', `Could not start Claude Code: ${(err as Error).message}`);
      if (error.kind === 'process_failed') this.log.error({ err, session: req.sessionId }, 'turn failed to start');
      turn.fail(error);
    } finally {
      this.eventIds.set(req.sessionId, Math.max(this.eventIds.get(req.sessionId) ?? 0, turn.lastEventId));
      releaseSlot?.();
      // A spare this turn used (or a place it freed) is made up for now that the turn has ended, off its path.
      if (!this.draining) this.spares.refill();
      if (turn.lastEventId >= 0) {
        this.notify('ended', turn);
        await this.hook('end', req.onEnd, turn);
      }
      leaveQueue?.();
    }
  }

  /**
   * The same turn again, once, on a cold process: the warm spare it was given refused the claim, so nothing ran
   * (turn.begin, `started` and onStart are not repeated). The refused process is gone first (it was closed).
   */
  private async runCold(turn: Turn, req: TurnRequest, limits: TurnLimits): Promise<void> {
    turn.interruptHandler = undefined;
    // The session queue holds the session: the refused runner is still its only one.
    await this.pool.close(req.sessionId);
    const stopped = () => {
      if (!turn.interruptRequested) return false;
      turn.fail(new EngineError('interrupted', 'The turn was interrupted before it ran.'));
      return true;
    };
    if (stopped()) return;
    const launch = await req.prepare({ cold: true });
    if (turn.finished || stopped()) {
      await this.pool.discardLaunch(launch);
      return;
    }
    this.spares.defer();
    const runner = await this.pool.obtain(req.sessionId, launch, req.owner);
    if ((await runner.run(turn, limits)) === 'spare_refused')
      turn.fail(new EngineError('process_failed', `Claude Code could not start: ${runner.spareRefusal ?? '?'}.`));
  }

  private notify(which: 'started' | 'ended', turn: Turn): void {
    for (const o of this.observers) {
      try {
        o[which]?.(turn);
      } catch (err) {
        this.log.warn({ err }, 'turn observer failed');
      }
    }
  }

  private async hook(which: string, fn: ((turn: Turn) => Promise<void>) | undefined, turn: Turn): Promise<void> {
    if (!fn) return;
    try {
      await fn(turn);
    } catch (err) {
      this.log.error({ err, session: turn.sessionId, turn: turn.id }, `turn ${which} hook failed`);
    }
  }

  private queueOf(sessionId: string): SessionQueue {
    let q = this.queues.get(sessionId);
    if (!q) {
      q = new SessionQueue();
      this.queues.set(sessionId, q);
    }
    return q;
  }

  private turnsOf(sessionId: string): Turn[] {
    let list = this.turns.get(sessionId);
    if (!list) {
      list = [];
      this.turns.set(sessionId, list);
    }
    return list;
  }

  private prune(sessionId: string): void {
    const list = this.turns.get(sessionId);
    if (!list) return;
    const cutoff = Date.now() - this.settings.replayMs;
    const kept = list.filter((t, i) => !t.finished || (t.finishedAt ?? 0) >= cutoff || i === list.length - 1);
    this.turns.set(sessionId, kept);
  }
}
