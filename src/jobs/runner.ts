// Runs one job as a chat turn and records how it ended: the business logic both job queues (database, BullMQ) share.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { EngineError } from '../engine/errors.js';
import type { NumberedEvent, TurnResult } from '../engine/events.js';
import type { Turn } from '../engine/turn.js';
import { ProblemError, type ProblemDoc } from '../problems.js';
import type { ChatCaller, ChatInput, ChatTurn, SessionService } from '../sessions/service.js';
import type { JobOutcome, JobRow, JobStatus, JsonObject, Store } from '../store/index.js';
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
import type { StartRate } from './start-rate.js';
import { personWebhookEvent, type JobEventType } from './view.js';

/** Stored events beyond this size keep only the non-text events. */
const STORED_EVENTS_BYTES = 1024 * 1024;
/** How long cancel waits for a running turn to end. */
export const CANCEL_WAIT_MS = 15_000;
/** How long waitForChange waits by default before the caller looks again. */
export const CHANGE_POLL_MS = 5_000;

/**
 * How a run ended: `ended` (the job has its final state, or was no longer queued), `busy` (every turn slot or its
 * session was busy: run it again a little later), `shutdown` (this process is stopping: the job stays as it is for
 * a restart or another node to take), `{ laterMs }` (its key has started JOB_STARTS_PER_KEY jobs in the window: it
 * stays queued and may start in that many ms).
 */
export type RunEnd = 'ended' | 'busy' | 'shutdown' | { laterMs: number };

/** Whose share a job's turn uses: the key that queued it, else its owner tenant (as for chat). */
export const keyOf = (job: JobRow) => job.key_id ?? job.owner;

/** A job this process is running: its turn once submitted, and whether a cancel was asked for. */
interface Handle {
  job: JobRow;
  turn?: Turn;
  cancelRequested: boolean;
  /** The key that queued it was revoked while it ran: it ends failed, not cancelled. */
  keyRevoked?: boolean;
  done: Promise<RunEnd>;
  /** The start it counted against its key's rate (given back if the turn never starts). */
  startToken?: string;
}

export class JobRunner {
  /** Emits `change` with a job id whenever a job starts, ends or goes back to the queue. */
  readonly changes = new EventEmitter();
  private readonly handles = new Map<string, Handle>();
  /** Set when this process takes no new job: a turn interrupted from now on was stopped by the shutdown. */
  stopping = false;
  /** JOB_STARTS_PER_KEY: how many jobs a key may start per window (in memory, or in Redis across nodes). */
  startRate: StartRate | undefined;

  constructor(
    private readonly store: Store,
    private readonly sessions: SessionService,
    private readonly dispatcher: WebhookDispatcher,
    private readonly retryOnRestart: boolean,
    private readonly log: Logger,
    private readonly observer: JobsObserver = {},
    approvals?: ApprovalService,
    /** Called when a job this process runs starts waiting for a person (its place may go to another job). */
    private readonly onWaiting: () => void = () => undefined,
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

  /** Jobs this process runs that hold a place: a job waiting for a person does not. */
  get active(): number {
    let n = 0;
    for (const h of this.handles.values()) if (!h.turn?.waiting) n++;
    return n;
  }

  /** How many places each key holds (jobs waiting for a person left out). */
  heldByKey(): Map<string, number> {
    const held = new Map<string, number>();
    for (const h of this.handles.values())
      if (!h.turn?.waiting) held.set(keyOf(h.job), (held.get(keyOf(h.job)) ?? 0) + 1);
    return held;
  }

  /** The sessions whose job this process runs now. */
  busySessions(): Set<string> {
    return new Set([...this.handles.values()].map((h) => h.job.session_id));
  }

  runs(jobId: string): boolean {
    return this.handles.has(jobId);
  }

  /** The turn of a job this process runs, once it has one. */
  turnOf(jobId: string): Turn | undefined {
    return this.handles.get(jobId)?.turn;
  }

  /** Resolves once every job this process runs has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.handles.values()].map((h) => h.done));
  }

  /** Keys that may start no job now (their window is full), and when the soonest has room: this process's view. */
  keysOverRate(): { keys: string[]; opensInMs?: number } {
    return this.startRate?.full?.() ?? { keys: [] };
  }

  /**
   * Runs a queued job to its end (a job that is no longer queued is left alone). The job counts in `active` from
   * the moment this is called; `whenLater` runs (still counted) when the run ends `busy` (no delay given) or over
   * its key's start rate (`laterMs`), to put the job off.
   */
  run(job: JobRow, whenLater?: (laterMs?: number) => Promise<void>): Promise<RunEnd> {
    const handle: Handle = { job, cancelRequested: false, done: Promise.resolve('ended') };
    this.handles.set(job.id, handle);
    handle.done = this.runHandle(handle)
      .then(async (end) => {
        if (whenLater && end === 'busy') await whenLater();
        else if (whenLater && typeof end === 'object') await whenLater(end.laterMs);
        return end;
      })
      .catch((err: unknown) => {
        this.log.error({ err, job: job.id }, 'job run failed');
        return 'ended' as const;
      })
      .finally(() => this.handles.delete(job.id));
    return handle.done;
  }

  /**
   * Cancels a job this process runs: its turn is interrupted and the job ends `cancelled` (this waits for that, up
   * to CANCEL_WAIT_MS). Returns false when this process does not run it.
   */
  async cancelHere(jobId: string): Promise<boolean> {
    const handle = this.handles.get(jobId);
    if (!handle) return false;
    handle.cancelRequested = true;
    handle.turn?.interrupt('client');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([handle.done, new Promise<void>((resolve) => (timer = setTimeout(resolve, CANCEL_WAIT_MS)))]);
    clearTimeout(timer);
    return true;
  }

  /** Ends a job that is still queued, with its webhook; undefined if it was no longer queued. */
  async endQueued(jobId: string, status: 'cancelled' | 'failed', problem: ProblemDoc): Promise<JobRow | undefined> {
    return this.endWithProblem(jobId, status, problem, ['queued']);
  }

  /** Fails the queued jobs of a tenant whose key was revoked: they would run for a key that no longer works. */
  async failQueuedOf(owner: string): Promise<string[]> {
    const failed: string[] = [];
    for (const job of await this.store.jobs.queuedOf(owner)) {
      if (await this.endQueued(job.id, 'failed', keyRevokedProblem())) failed.push(job.id);
    }
    return failed;
  }

  /**
   * Stops the jobs this process runs for a key that was revoked: their turns are interrupted and each job ends
   * `failed` with the revoke (the key's other turns are the engine's to stop). Returns how many.
   */
  failRunningOf(keyId: string): number {
    let n = 0;
    for (const handle of this.handles.values()) {
      if (handle.job.key_id !== keyId) continue;
      handle.keyRevoked = true;
      handle.turn?.interrupt('client');
      n++;
    }
    return n;
  }

  /**
   * A job left `running` or `waiting` by a process that stopped or died: re-queued once (JOB_RETRY_ON_RESTART), else
   * failed; one that waited for a person fails (its request expired). Returns the job when it is queued again.
   */
  async recoverLeft(job: JobRow): Promise<JobRow | undefined> {
    if (job.status === 'waiting') {
      await this.endWithProblem(job.id, 'failed', approvalExpiredProblem(), ['waiting']);
      this.log.warn(
        { job: job.id, session: job.session_name },
        'job was waiting for a person when its server stopped: failed',
      );
      return undefined;
    }
    if (job.status !== 'running') return undefined;
    if (this.retryOnRestart && job.restarts < 1) {
      const row = await this.store.jobs.requeueAfterRestart(job.id);
      if (!row) return undefined;
      this.observer.jobState?.('queued');
      this.changed(job.id);
      this.log.warn({ job: job.id, session: job.session_name }, 'job was running when its server stopped: re-queued');
      return row;
    }
    await this.endWithProblem(job.id, 'failed', restartProblem(this.retryOnRestart), ['running']);
    this.log.warn({ job: job.id, session: job.session_name }, 'job was running when its server stopped: failed');
    return undefined;
  }

  /** Fails a job whatever state short of ended it is in (a queue gave up on it), with its webhook. */
  async failUnended(jobId: string, problem: ProblemDoc): Promise<JobRow | undefined> {
    return this.endWithProblem(jobId, 'failed', problem);
  }

  /**
   * Ends a job with `problem` (from one of the states `from`, else from any state short of ended), with its
   * webhook; undefined when it was not in such a state.
   */
  private async endWithProblem(
    jobId: string,
    status: 'cancelled' | 'failed',
    problem: ProblemDoc,
    from?: JobStatus[],
  ): Promise<JobRow | undefined> {
    const row = await this.store.jobs.finish(
      jobId,
      { status, error: { ...problem }, events: syntheticEnd(problem) },
      from,
    );
    if (!row) return undefined;
    this.observer.jobState?.(status);
    this.changed(jobId);
    await this.announce(status === 'cancelled' ? 'job.cancelled' : 'job.failed', row);
    return row;
  }

  /** Resolves when the job changes in this process (or after `timeoutMs`, or when `signal` aborts). */
  waitForChange(jobId: string, signal: AbortSignal | undefined, timeoutMs = CHANGE_POLL_MS): Promise<void> {
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

  changed(jobId: string): void {
    this.changes.emit('change', jobId);
  }

  /** The key that queued the job, with its budget as it is now (a created key's may have changed since). */
  private async payerOf(job: JobRow): Promise<ChatCaller> {
    if (job.key_id === null) return {};
    const key = job.key_id.startsWith('key_') ? await this.store.apiKeys.findById(job.key_id) : undefined;
    return { keyId: job.key_id, keyBudgetUsd: key?.budget_usd ?? null };
  }

  private async runHandle(handle: Handle): Promise<RunEnd> {
    const fresh = await this.store.jobs.findById(handle.job.id);
    if (!fresh || fresh.status !== 'queued') return 'ended'; // cancelled meanwhile, or its session was deleted
    const job = (handle.job = fresh);
    const overRate = await this.takeStart(handle);
    if (overRate) return overRate;
    let chat: ChatTurn;
    try {
      chat = await this.sessions.chat(
        job.owner,
        job.session_name,
        { ...(job.options as Omit<ChatInput, 'message'>), message: job.message },
        await this.payerOf(job),
      );
    } catch (err) {
      return this.notStarted(handle, err);
    }
    const turn = (handle.turn = chat.turn);
    if (handle.cancelRequested || handle.keyRevoked) turn.interrupt('client');
    await turn.whenStarted();
    if (turn.lastEventId < 0) {
      // Ended before it started (cancelled while waiting, slots busy, shutdown …).
      return this.notStarted(handle, turn.error ?? new EngineError('interrupted', 'The turn ended before it started.'));
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
        if (waiting) this.onWaiting();
      });
      await this.announce('job.started', running);
    } else if (await this.store.jobs.findById(job.id)) {
      // No longer queued: cancelled in the instant between being picked and starting (or taken by another process).
      turn.interrupt('client');
      await chat.recorded;
      return 'ended';
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
      // Stopped by the shutdown, not by a client: left `running`, so a restart or another node re-queues it.
      this.log.info({ job: job.id }, 'job interrupted by shutdown; it is recovered by the next start or another node');
      return 'shutdown';
    }
    const events = await storedEvents(turn);
    let outcome: JobOutcome;
    if (result && result.status !== 'interrupted') outcome = { status: 'succeeded', result: { ...result }, events };
    else if (interrupted && handle.keyRevoked)
      outcome = {
        status: 'failed',
        result: result ? { ...result } : null,
        error: { ...keyRevokedProblem(true) },
        events,
      };
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
    return 'ended';
  }

  /**
   * Counts the job's start against its key's rate (JOB_STARTS_PER_KEY); over it, the job stays queued and the
   * queue puts it off until the window has room. When the rate cannot be read (Redis unreachable), `busy`.
   */
  private async takeStart(handle: Handle): Promise<RunEnd | undefined> {
    if (!this.startRate) return undefined;
    const token = randomUUID();
    try {
      const laterMs = await this.startRate.take(keyOf(handle.job), token);
      if (laterMs > 0) {
        this.log.debug(
          { job: handle.job.id, key: keyOf(handle.job), laterMs },
          'job start put off: key over its start rate',
        );
        return { laterMs };
      }
    } catch (err) {
      this.log.warn({ err, job: handle.job.id }, "could not read the key's job start rate; trying again shortly");
      return 'busy';
    }
    handle.startToken = token;
    return undefined;
  }

  /** A job whose turn never started: back to the queue when that is worth it (its start given back), else ended. */
  private async notStarted(handle: Handle, err: unknown): Promise<RunEnd> {
    const end = await this.notStartedEnd(handle, err);
    if (end !== 'ended' && handle.startToken && this.startRate)
      await this.startRate.giveBack(keyOf(handle.job), handle.startToken).catch(() => undefined);
    return end;
  }

  private async notStartedEnd(handle: Handle, err: unknown): Promise<RunEnd> {
    const id = handle.job.id;
    if (err instanceof EngineError) {
      if (handle.keyRevoked) {
        const problem = keyRevokedProblem();
        await this.end(handle, { status: 'failed', error: { ...problem }, events: syntheticEnd(problem) });
        return 'ended';
      }
      if (handle.cancelRequested || (err.kind === 'interrupted' && !this.stopping)) {
        const problem = cancelledProblem(false);
        await this.end(handle, { status: 'cancelled', error: { ...problem }, events: syntheticEnd(problem) });
        return 'ended';
      }
      if (err.kind === 'shutting_down' || this.stopping) return 'shutdown'; // stays queued
      // Another node runs the session's process (several nodes): the job waits until that node lets it go.
      if (err.kind === 'overloaded' || err.kind === 'session_busy' || err.kind === 'owned_elsewhere') return 'busy';
    }
    let problem: ProblemDoc;
    if (err instanceof EngineError || err instanceof ProblemError) problem = err.toProblem();
    else {
      this.log.error({ err, job: id }, 'job could not be submitted');
      problem = internalProblem();
    }
    await this.end(handle, { status: 'failed', error: { ...problem }, events: syntheticEnd(problem) });
    return 'ended';
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
}

/** The turn's events as a job keeps them; a very long log keeps its non-text events only. */
async function storedEvents(turn: Turn): Promise<NumberedEvent[]> {
  const all: NumberedEvent[] = [];
  for await (const e of turn.events(-1)) all.push(e);
  if (JSON.stringify(all).length <= STORED_EVENTS_BYTES) return all;
  return all.filter((e) => e.event.type !== 'text');
}
