// The job queue: runs queued jobs as chat turns (one per session at a time, JOB_CONCURRENCY overall), records how they end, recovers after restarts.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { EngineError } from '../engine/errors.js';
import type { NumberedEvent, TurnResult } from '../engine/events.js';
import type { Turn } from '../engine/turn.js';
import { ProblemError, type ProblemDoc } from '../problems.js';
import type { ChatCaller, ChatInput, ChatTurn, SessionService } from '../sessions/service.js';
import type { JobOutcome, JobRow, JsonObject, Store } from '../store/index.js';
import type { WebhookDispatcher } from './dispatcher.js';
import type { JobsObserver } from './observer.js';
import type { ApprovalService } from '../approvals/service.js';
import {
  approvalExpiredProblem,
  cancelledProblem,
  internalProblem,
  keyRevokedProblem,
  restartProblem,
  syntheticEnd,
} from './problems.js';
import { personWebhookEvent, type JobEventType } from './view.js';
import { Pump } from './pump.js';

/** Longest wait between looks at the queue (a delayed job's run_after, or work added by another process). */
const POLL_MS = 5_000;
/** How long a job waits before another try when every turn slot, or its session's queue, was full. */
const BUSY_DELAY_MS = 1_000;
/** Stored events beyond this size keep only the non-text events. */
const STORED_EVENTS_BYTES = 1024 * 1024;
/** How long cancel waits for a running turn to end. */
const CANCEL_WAIT_MS = 15_000;

export interface WorkerSettings {
  concurrency: number;
  retryOnRestart: boolean;
  /** Most jobs of one key running or waiting for a turn slot (MAX_CONCURRENT_TURNS_PER_KEY); no cap when unset. */
  perKey?: number;
}

/** Whose share a job's turn uses: the key that queued it, else its owner tenant (as for chat). */
const keyOf = (job: JobRow) => job.key_id ?? job.owner;

/** A job this process is running: its turn once submitted, and whether a cancel was asked for. */
interface Handle {
  job: JobRow;
  turn?: Turn;
  cancelRequested: boolean;
  done: Promise<void>;
}

export class JobWorker {
  /** Emits `change` with a job id whenever a job starts, ends or goes back to the queue. */
  readonly changes = new EventEmitter();
  private readonly handles = new Map<string, Handle>();
  private readonly busySessions = new Set<string>();
  private readonly pump = new Pump(
    {
      work: () => this.launchRunnable(),
      nextDelayMs: async () => {
        const next = await this.store.jobs.nextRunAfter();
        return next === undefined ? undefined : Date.parse(next) - Date.now();
      },
      onError: (err) => this.log.error({ err }, 'job queue could not be read; retrying'),
    },
    POLL_MS,
  );
  private started = false;
  private stopping = false;

  constructor(
    private readonly store: Store,
    private readonly sessions: SessionService,
    private readonly dispatcher: WebhookDispatcher,
    private readonly settings: WorkerSettings,
    private readonly log: Logger,
    private readonly observer: JobsObserver = {},
    approvals?: ApprovalService,
  ) {
    this.changes.setMaxListeners(0);
    if (approvals) {
      approvals.jobOfTurn = (turnId) => this.handleOfTurn(turnId)?.job.id;
      approvals.onPause(async (_row, event) => {
        const handle = this.handleOfTurn(event.turn_id);
        if (handle) await this.announce(personWebhookEvent(event), handle.job, { [event.type]: { ...event } });
      });
    }
  }

  private handleOfTurn(turnId: string): Handle | undefined {
    for (const h of this.handles.values()) if (h.turn?.id === turnId) return h;
    return undefined;
  }

  /** Jobs that count against JOB_CONCURRENCY: a job waiting for a person does not. */
  private get active(): number {
    let n = 0;
    for (const h of this.handles.values()) if (!h.turn?.waiting) n++;
    return n;
  }

  /** Settles jobs a dead process left running (re-queue once, or fail), then starts taking queued jobs. */
  async start(): Promise<void> {
    await this.recover();
    this.started = true;
    this.notify();
  }

  /** Takes no new job from now on (running ones go on). */
  stopIntake(): void {
    this.stopping = true;
    this.pump.stop();
  }

  /** Waits for the jobs in flight to settle (call after the engine has shut down, which ends their turns). */
  async stop(): Promise<void> {
    this.stopIntake();
    await Promise.allSettled([...this.handles.values()].map((h) => h.done));
  }

  /** Looks at the queue soon (a job was added or a slot came free). */
  notify(): void {
    this.schedule(0);
  }

  /** The turn of a job this process runs, once it has one. */
  turnOf(jobId: string): Turn | undefined {
    return this.handles.get(jobId)?.turn;
  }

  /**
   * Cancels a job. A queued one ends `cancelled` without running; a running one has its turn interrupted and ends
   * `cancelled` (this waits for that). Returns the job as it is afterwards, or undefined if it is gone; a job that
   * had already ended is returned unchanged (the caller answers 409).
   */
  async cancel(jobId: string): Promise<JobRow | undefined> {
    const handle = this.handles.get(jobId);
    if (handle) {
      handle.cancelRequested = true;
      handle.turn?.interrupt('client');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([handle.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, CANCEL_WAIT_MS)))]);
      clearTimeout(timer);
      return this.store.jobs.findById(jobId);
    }
    return (await this.endQueued(jobId, 'cancelled', cancelledProblem(false))) ?? this.store.jobs.findById(jobId);
  }

  /** Fails the queued jobs of a tenant whose key was revoked: they would run for a key that no longer works. */
  async failQueuedOf(owner: string): Promise<number> {
    let failed = 0;
    for (const job of await this.store.jobs.queuedOf(owner)) {
      if (await this.endQueued(job.id, 'failed', keyRevokedProblem())) failed += 1;
    }
    return failed;
  }

  /** Ends a job that is still queued, with its webhook; undefined if it was no longer queued. */
  private async endQueued(
    jobId: string,
    status: 'cancelled' | 'failed',
    problem: ProblemDoc,
  ): Promise<JobRow | undefined> {
    const row = await this.store.jobs.finish(jobId, { status, error: { ...problem }, events: syntheticEnd(problem) }, [
      'queued',
    ]);
    if (!row) return undefined;
    this.observer.jobState?.(status);
    this.changed(jobId);
    await this.announce(status === 'cancelled' ? 'job.cancelled' : 'job.failed', row);
    return row;
  }

  /** Resolves when the job changes (or after `timeoutMs`, or when `signal` aborts). */
  waitForChange(jobId: string, signal: AbortSignal | undefined, timeoutMs = POLL_MS): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.changes.off('change', onChange);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const onChange = (id: string) => {
        if (id === jobId) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.changes.on('change', onChange);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private changed(jobId: string): void {
    this.changes.emit('change', jobId);
  }

  private schedule(delayMs: number): void {
    if (this.started && !this.stopping) this.pump.kick(delayMs);
  }

  /** Launches the queued jobs there is room for, one per session. */
  private async launchRunnable(): Promise<void> {
    if (this.stopping || this.active >= this.settings.concurrency) return;
    // A key at its share waits here rather than take the worker's room from other keys' jobs.
    const perKey = this.settings.perKey ?? Infinity;
    const held = new Map<string, number>();
    for (const h of this.handles.values())
      if (!h.turn?.waiting) held.set(keyOf(h.job), (held.get(keyOf(h.job)) ?? 0) + 1);
    const fullKeys = [...held].filter(([, n]) => n >= perKey).map(([k]) => k);
    const candidates = await this.store.jobs.runnable(
      this.settings.concurrency - this.active,
      [...this.busySessions],
      undefined,
      fullKeys,
    );
    for (const job of candidates) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stopIntake() may have run while runnable() was awaited
      if (this.stopping || this.active >= this.settings.concurrency) break;
      if (this.handles.has(job.id) || this.busySessions.has(job.session_id)) continue;
      if ((held.get(keyOf(job)) ?? 0) >= perKey) continue;
      held.set(keyOf(job), (held.get(keyOf(job)) ?? 0) + 1);
      this.launch(job);
    }
  }

  private launch(job: JobRow): void {
    const handle: Handle = { job, cancelRequested: false, done: Promise.resolve() };
    this.handles.set(job.id, handle);
    this.busySessions.add(job.session_id);
    handle.done = this.run(handle)
      .catch((err: unknown) => this.log.error({ err, job: job.id }, 'job run failed'))
      .finally(() => {
        this.handles.delete(job.id);
        this.busySessions.delete(job.session_id);
        this.notify();
      });
  }

  /** The key that queued the job, with its budget as it is now (a created key's may have changed since). */
  private async payerOf(job: JobRow): Promise<ChatCaller> {
    if (job.key_id === null) return {};
    const key = job.key_id.startsWith('key_') ? await this.store.apiKeys.findById(job.key_id) : undefined;
    return { keyId: job.key_id, keyBudgetUsd: key?.budget_usd ?? null };
  }

  private async run(handle: Handle): Promise<void> {
    const fresh = await this.store.jobs.findById(handle.job.id);
    if (!fresh || fresh.status !== 'queued') return; // cancelled meanwhile, or its session was deleted
    const job = (handle.job = fresh);
    let chat: ChatTurn;
    try {
      chat = await this.sessions.chat(
        job.owner,
        job.session_name,
        { ...(job.options as Omit<ChatInput, 'message'>), message: job.message },
        await this.payerOf(job),
      );
    } catch (err) {
      await this.notStarted(handle, err);
      return;
    }
    const turn = (handle.turn = chat.turn);
    if (handle.cancelRequested) turn.interrupt('client');
    await turn.whenStarted();
    if (turn.lastEventId < 0) {
      // Ended before it started (cancelled while waiting, slots busy, shutdown …).
      await this.notStarted(handle, turn.error ?? new EngineError('interrupted', 'The turn ended before it started.'));
      return;
    }
    const running = await this.store.jobs.markRunning(job.id, turn.id);
    if (running) {
      handle.job = running;
      this.observer.jobState?.('running');
      this.changed(job.id);
      // Waiting for a person: `waiting`, and the job no longer counts against JOB_CONCURRENCY meanwhile.
      turn.onWaiting(async (waiting) => {
        const row = await this.store.jobs.setWaiting(job.id, waiting);
        if (!row) return;
        handle.job = row;
        this.changed(job.id);
        if (waiting) this.notify();
      });
      await this.announce('job.started', running);
    } else if (await this.store.jobs.findById(job.id)) {
      // No longer queued: cancelled in the instant between being picked and starting (or taken by another process).
      turn.interrupt('client');
      await chat.recorded;
      return;
    }
    let result: TurnResult | undefined;
    let error: EngineError | undefined;
    try {
      result = await turn.done;
    } catch (err) {
      error = err instanceof EngineError ? err : new EngineError('process_failed', (err as Error).message);
    }
    await chat.recorded;
    const interrupted = result?.status === 'interrupted' || error?.kind === 'interrupted';
    if (this.stopping && interrupted && !handle.cancelRequested) {
      // Stopped by the shutdown, not by a client: left `running`, so the next start re-queues it (JOB_RETRY_ON_RESTART).
      this.log.info({ job: job.id }, 'job interrupted by shutdown; it is recovered at the next start');
      return;
    }
    const events = await storedEvents(turn);
    let outcome: JobOutcome;
    if (result && result.status !== 'interrupted') outcome = { status: 'succeeded', result: { ...result }, events };
    else if (interrupted)
      outcome = {
        status: 'cancelled',
        result: result ? { ...result } : null,
        error: { ...cancelledProblem(true) },
        events,
      };
    else
      outcome = {
        status: 'failed',
        error: { ...(error ?? new EngineError('process_failed', 'The turn failed.')).toProblem() },
        events,
      };
    await this.end(handle, outcome);
  }

  /** A job whose turn never started: back to the queue when that is worth it, else ended. */
  private async notStarted(handle: Handle, err: unknown): Promise<void> {
    const id = handle.job.id;
    if (err instanceof EngineError) {
      if (handle.cancelRequested || (err.kind === 'interrupted' && !this.stopping)) {
        const problem = cancelledProblem(false);
        await this.end(handle, { status: 'cancelled', error: { ...problem }, events: syntheticEnd(problem) });
        return;
      }
      if (err.kind === 'shutting_down' || this.stopping) return; // stays queued for the next start
      if (err.kind === 'overloaded' || err.kind === 'session_busy') {
        await this.store.jobs.delay(id, new Date(Date.now() + BUSY_DELAY_MS).toISOString());
        this.changed(id);
        return;
      }
    }
    let problem: ProblemDoc;
    if (err instanceof EngineError || err instanceof ProblemError) problem = err.toProblem();
    else {
      this.log.error({ err, job: id }, 'job could not be submitted');
      problem = internalProblem();
    }
    await this.end(handle, { status: 'failed', error: { ...problem }, events: syntheticEnd(problem) });
  }

  private async end(handle: Handle, outcome: JobOutcome): Promise<void> {
    const stored = await this.store.jobs.finish(handle.job.id, outcome);
    const at = new Date().toISOString();
    // A job whose session was deleted meanwhile is gone from the table; its webhook still says how it ended.
    const row: JobRow = stored ?? {
      ...handle.job,
      ...outcome,
      result: outcome.result ?? null,
      error: outcome.error ?? null,
      events: outcome.events ?? null,
      finished_at: at,
      updated_at: at,
    };
    if (!stored && (await this.store.jobs.findById(handle.job.id))) return; // it had already ended (cancelled elsewhere)
    this.observer.jobState?.(outcome.status);
    this.changed(handle.job.id);
    const event: JobEventType =
      outcome.status === 'succeeded'
        ? 'job.succeeded'
        : outcome.status === 'cancelled'
          ? 'job.cancelled'
          : 'job.failed';
    await this.announce(event, row);
  }

  private async announce(event: JobEventType, row: JobRow, extra?: JsonObject): Promise<void> {
    try {
      await this.dispatcher.enqueue(event, row, extra);
    } catch (err) {
      this.log.error({ err, job: row.id, event }, 'could not store the webhook delivery');
    }
  }

  /** Jobs left `running` by a process that stopped: re-queued once (JOB_RETRY_ON_RESTART), else failed. */
  private async recover(): Promise<void> {
    for (const job of await this.store.jobs.running()) {
      if (job.status === 'waiting') {
        // Its approval or question expired with the restart; re-running would ask again for nothing: it fails.
        const problem = approvalExpiredProblem();
        const row = await this.store.jobs.finish(
          job.id,
          { status: 'failed', error: { ...problem }, events: syntheticEnd(problem) },
          ['waiting'],
        );
        this.log.warn(
          { job: job.id, session: job.session_name },
          'job was waiting for a person when the server stopped: failed',
        );
        if (row) {
          this.observer.jobState?.('failed');
          await this.announce('job.failed', row);
        }
        continue;
      }
      if (this.settings.retryOnRestart && job.restarts < 1) {
        await this.store.jobs.requeueAfterRestart(job.id);
        this.observer.jobState?.('queued');
        this.log.warn({ job: job.id, session: job.session_name }, 'job was running when the server stopped: re-queued');
        continue;
      }
      const problem = restartProblem(this.settings.retryOnRestart);
      const row = await this.store.jobs.finish(
        job.id,
        { status: 'failed', error: { ...problem }, events: syntheticEnd(problem) },
        ['running'],
      );
      this.log.warn({ job: job.id, session: job.session_name }, 'job was running when the server stopped: failed');
      if (row) {
        this.observer.jobState?.('failed');
        await this.announce('job.failed', row);
      }
    }
  }
}

/** The turn's events as a job keeps them; a very long log keeps its non-text events only. */
async function storedEvents(turn: Turn): Promise<NumberedEvent[]> {
  const all: NumberedEvent[] = [];
  for await (const e of turn.events(-1)) all.push(e);
  if (JSON.stringify(all).length <= STORED_EVENTS_BYTES) return all;
  return all.filter((e) => e.event.type !== 'text');
}
