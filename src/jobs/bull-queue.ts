// The job queue across nodes (REDIS_URL set): BullMQ carries each job to a worker node; Redis locks keep one job per session and a key's share across nodes.
import { randomUUID } from 'node:crypto';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ProblemError, problemType, type ProblemDoc } from '../problems.js';
import type { JobRow, Store } from '../store/index.js';
import { bullConnection, bullPrefix, CLOSE_WAIT_MS, depthOf, within } from './bull.js';
import { cancelledProblem } from './problems.js';
import { BUSY_DELAY_MS, ENDED_JOB_STATUSES, type JobQueue, type QueueDepth } from './queue.js';
import { RedisLocks } from './redis-locks.js';
import { CANCEL_WAIT_MS, keyOf, type JobRunner } from './runner.js';

/** Tries of a job whose run failed for a reason of the queue itself (database or Redis unreachable …). */
export const QUEUE_ATTEMPTS = 3;
/** The first retry's delay; each next one doubles it. */
export const QUEUE_BACKOFF_MS = 1_000;
/** How often cancel looks at a job that runs on another node. */
const CANCEL_POLL_MS = 200;

export interface BullQueueSettings {
  redisUrl: string;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  nodeId: string;
  /** Whether this node runs jobs (NODE_ROLE all or worker) or only queues them (api). */
  runsJobs: boolean;
  /** Jobs this node runs at once (JOB_CONCURRENCY). */
  concurrency: number;
  /** Most jobs of one key running at once across nodes (MAX_CONCURRENT_TURNS_PER_KEY); no cap when unset. */
  perKey?: number;
  /** JOB_LOCK_SECONDS, ms: how long a node's hold on a job (and its session) lasts without renewal. */
  lockMs: number;
}

interface JobData {
  session: string;
}

/** A job the queue gave up on (it kept failing for a reason of the queue, or its node kept dying). */
function queueGaveUpProblem(reason: string): ProblemDoc {
  return {
    type: problemType('job-interrupted'),
    title: 'Job could not be run',
    status: 503,
    detail: `The job queue gave up on this job after ${QUEUE_ATTEMPTS} tries: ${reason}`,
  };
}

export class BullJobQueue implements JobQueue {
  readonly backend = 'redis';
  private worker: Worker<JobData> | undefined;
  private subscriber: Redis | undefined;
  private closing: Promise<void> | undefined;
  private starting: Promise<void> = Promise.resolve();
  private readonly locks: RedisLocks;
  private readonly cancelChannel: string;

  private constructor(
    private readonly store: Store,
    private readonly runner: JobRunner,
    private readonly settings: BullQueueSettings,
    private readonly log: Logger,
    private readonly redis: Redis,
    private readonly queue: Queue<JobData>,
  ) {
    this.locks = new RedisLocks(redis, settings.keyPrefix, settings.lockMs);
    this.cancelChannel = `${settings.keyPrefix}jobs:cancel`;
  }

  /** Opens the queue on `redis` (a connection of the caller's, for locks and pub/sub; BullMQ opens its own). */
  static open(store: Store, runner: JobRunner, settings: BullQueueSettings, log: Logger, redis: Redis): BullJobQueue {
    const queue = new Queue<JobData>('jobs', {
      connection: bullConnection(settings.redisUrl),
      prefix: bullPrefix(settings.keyPrefix),
    });
    queue.on('error', (err) => log.error({ err }, 'job queue (BullMQ) connection error'));
    return new BullJobQueue(store, runner, settings, log, redis, queue);
  }

  get runsJobs(): boolean {
    return this.settings.runsJobs;
  }

  /**
   * Settles the jobs a gone node left running (awaited), then starts this node's BullMQ worker (role all or worker)
   * in the background — subscribing, re-queueing and connecting take round trips the start need not wait for.
   */
  async start(): Promise<void> {
    if (!this.settings.runsJobs) return;
    await this.recoverAbandoned();
    this.starting = this.startWorker().catch((err: unknown) =>
      this.log.error({ err }, 'the job worker (BullMQ) could not start; this node runs no jobs'),
    );
  }

  private async startWorker(): Promise<void> {
    this.subscriber = this.redis.duplicate({ enableOfflineQueue: true });
    this.subscriber.on('error', (err) => this.log.warn({ err }, 'job cancel channel: Redis error'));
    this.subscriber.on('message', (_channel: string, jobId: string) => {
      if (this.runner.runs(jobId)) void this.runner.cancelHere(jobId);
    });
    await this.subscriber.subscribe(this.cancelChannel);
    // Jobs the queue lost (Redis emptied, a node died between storing and queueing) are handed to it again; one it
    // still holds is left as it is (same id), so a job running elsewhere is not disturbed.
    for (const id of await this.store.jobs.unendedIds()) await this.add(id);
    const { lockMs } = this.settings;
    if (this.runner.stopping) return; // stopped while starting
    this.worker = new Worker<JobData>('jobs', (job, token) => this.process(job, token), {
      connection: bullConnection(this.settings.redisUrl),
      prefix: bullPrefix(this.settings.keyPrefix),
      concurrency: this.settings.concurrency,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      // A job whose node died is run again by another: the runner re-queues it once (JOB_RETRY_ON_RESTART) or
      // fails it; this is the queue's own limit behind that.
      maxStalledCount: 2,
      name: this.settings.nodeId,
    });
    this.worker.on('error', (err) => this.log.error({ err }, 'job worker (BullMQ) error'));
    this.worker.on('failed', (job, err) => void this.onFailed(job, err));
  }

  /**
   * Jobs left running by a node that is gone — a previous life of this node (same NODE_ID), or any node whose hold
   * has already lapsed — are settled now rather than when BullMQ notices them stalled: re-queued once or failed.
   */
  private async recoverAbandoned(): Promise<void> {
    const mine = `${this.settings.nodeId}:`;
    for (const job of await this.store.jobs.running()) {
      const holder = `${mine}${randomUUID()}`;
      if (!(await this.locks.takeOverSession(job.session_id, holder, mine))) continue; // a live node runs it
      try {
        await this.runner.recoverLeft(job);
      } finally {
        await this.locks.unlockSession(job.session_id, holder);
      }
    }
  }

  async enqueue(job: JobRow): Promise<void> {
    try {
      await this.add(job.id);
    } catch (err) {
      this.log.error({ err, job: job.id }, 'could not hand the job to the queue');
      await this.runner.failUnended(job.id, queueGaveUpProblem('Redis did not take it'));
      throw new ProblemError(
        503,
        'queue-unavailable',
        'Job queue unavailable',
        'The job could not be queued: Redis (REDIS_URL) did not answer. Nothing was queued; try again.',
      );
    }
  }

  private async add(id: string): Promise<void> {
    const row = await this.store.jobs.findById(id);
    if (!row) return;
    await this.queue.add(
      'run',
      { session: row.session_id },
      {
        jobId: id,
        attempts: QUEUE_ATTEMPTS,
        backoff: { type: 'exponential', delay: QUEUE_BACKOFF_MS },
        removeOnComplete: true,
        removeOnFail: { count: 1000 },
      },
    );
  }

  async cancel(jobId: string): Promise<JobRow | undefined> {
    if (await this.runner.cancelHere(jobId)) return this.store.jobs.findById(jobId);
    // Queued: out of the queue (a job a worker holds stays: its runner finds it ended and does not run it).
    await this.queue.remove(jobId).catch(() => 0);
    const ended = await this.runner.endQueued(jobId, 'cancelled', cancelledProblem(false));
    if (ended) return ended;
    const row = await this.store.jobs.findById(jobId);
    if (!row || ENDED_JOB_STATUSES.has(row.status)) return row;
    // Running on another node: it interrupts the turn on the message, and the job ends there.
    await this.redis.publish(this.cancelChannel, jobId);
    const deadline = Date.now() + CANCEL_WAIT_MS;
    for (;;) {
      const now = await this.store.jobs.findById(jobId);
      if (!now || ENDED_JOB_STATUSES.has(now.status) || Date.now() >= deadline) return now;
      await new Promise((resolve) => setTimeout(resolve, CANCEL_POLL_MS));
    }
  }

  /** BullMQ counts a job waiting for a person among the active ones: nothing to look at again. */
  notify(): void {}

  async failQueuedOf(owner: string): Promise<number> {
    const failed = await this.runner.failQueuedOf(owner);
    for (const id of failed) await this.queue.remove(id).catch(() => 0);
    return failed.length;
  }

  async depth(): Promise<QueueDepth> {
    return depthOf(this.queue);
  }

  stopIntake(): void {
    this.runner.stopping = true;
    this.closing ??= this.starting.then(() => this.worker?.close());
  }

  /**
   * Stops taking jobs, lets running ones settle, and closes the connections. BullMQ's graceful close waits for Redis,
   * so with Redis unreachable each close is given CLOSE_WAIT_MS and then the connection is dropped: a server must
   * stop even when Redis is gone.
   */
  async stop(): Promise<void> {
    this.stopIntake();
    if (!(await within(this.closing, CLOSE_WAIT_MS))) {
      this.log.warn('the job worker did not close in time (Redis unreachable?): dropping its connection');
      await within(this.worker?.disconnect(), CLOSE_WAIT_MS);
    }
    await this.runner.settled();
    if (!(await within(this.queue.close(), CLOSE_WAIT_MS))) {
      this.log.warn('the job queue did not close in time (Redis unreachable?): dropping its connection');
      await within(this.queue.disconnect(), CLOSE_WAIT_MS);
    }
    this.subscriber?.disconnect();
  }

  /**
   * Runs one job BullMQ hands this node: under its session's lock (held by one node at a time), in its session's
   * order, within its key's share; put off (delayed, not a failed try) when any of those says "not now".
   */
  private async process(job: Job<JobData>, token: string | undefined): Promise<void> {
    const id = job.id!;
    const first = await this.store.jobs.findById(id);
    if (!first || ENDED_JOB_STATUSES.has(first.status)) return; // cancelled, or its session deleted
    const holder = `${this.settings.nodeId}:${randomUUID()}`;
    if (!(await this.locks.lockSession(first.session_id, holder))) return this.later(job, token, BUSY_DELAY_MS);
    const { perKey } = this.settings;
    let slot: string | undefined;
    let renewal: NodeJS.Timeout | undefined;
    try {
      let row: JobRow | undefined = first;
      if (row.status === 'running' || row.status === 'waiting') {
        // Its node died (or stopped) mid-turn and its hold lapsed: re-queued once, or failed.
        row = await this.runner.recoverLeft(row);
        if (!row) return;
      }
      // An older job of the session first — also one whose node died and that waits to be recovered.
      if (await this.store.jobs.hasOlderUnended(row.session_id, row.id))
        return await this.later(job, token, BUSY_DELAY_MS);
      if (perKey !== undefined) {
        if (!(await this.locks.takeSlot(keyOf(row), holder, perKey)))
          return await this.later(job, token, BUSY_DELAY_MS);
        slot = keyOf(row);
      }
      const sessionId = row.session_id;
      renewal = setInterval(() => {
        void this.renew(sessionId, slot, holder, perKey);
      }, this.settings.lockMs / 3);
      const end = await this.runner.run(row);
      if (end === 'busy') return await this.later(job, token, BUSY_DELAY_MS);
      // Its key has started its JOB_STARTS_PER_KEY in the window (across nodes): delayed until there is room.
      if (typeof end === 'object') return await this.later(job, token, end.laterMs);
      // Stopped by this node's shutdown: back to the queue for another node (or this one's restart).
      if (end === 'shutdown') return await this.later(job, token, 0);
    } finally {
      clearInterval(renewal);
      await this.release(first.session_id, slot, holder);
    }
  }

  private async renew(sessionId: string, slot: string | undefined, holder: string, perKey?: number): Promise<void> {
    try {
      if (!(await this.locks.renewSession(sessionId, holder)))
        this.log.error(
          { session: sessionId },
          "lost the session's job lock while its job ran (Redis unreachable too long?)",
        );
      if (slot !== undefined && perKey !== undefined) await this.locks.takeSlot(slot, holder, perKey);
    } catch (err) {
      this.log.warn({ err, session: sessionId }, "could not renew the session's job lock; trying again");
    }
  }

  private async release(sessionId: string, slot: string | undefined, holder: string): Promise<void> {
    try {
      if (slot !== undefined) await this.locks.releaseSlot(slot, holder);
      await this.locks.unlockSession(sessionId, holder);
    } catch (err) {
      this.log.warn({ err, session: sessionId }, 'could not release the job locks; they lapse on their own');
    }
  }

  /** Puts the job off until `ms` from now without counting a try. */
  private async later(job: Job<JobData>, token: string | undefined, ms: number): Promise<never> {
    await job.moveToDelayed(Date.now() + ms, token);
    throw new DelayedError();
  }

  /** A try that threw: BullMQ retries it with backoff; after the last, the job fails with the reason. */
  private async onFailed(job: Job<JobData> | undefined, err: Error): Promise<void> {
    if (!job?.id) return;
    const last = job.attemptsMade >= (job.opts.attempts ?? 1) || /stalled/i.test(err.message);
    this.log.warn({ err, job: job.id, attempt: job.attemptsMade, last }, 'job try failed in the queue');
    if (!last) return;
    try {
      await this.runner.failUnended(job.id, queueGaveUpProblem(err.message));
    } catch (e) {
      this.log.error({ err: e, job: job.id }, 'could not record the failed job');
    }
  }
}
