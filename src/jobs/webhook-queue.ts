// Webhook attempts on BullMQ (REDIS_URL set): each attempt a job delayed until it is due, run by any node that runs jobs.
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { bullConnection, bullPrefix, CLOSE_WAIT_MS, depthOf, within } from './bull.js';
import type { QueueDepth } from './queue.js';

/** Attempts a node makes at once. */
export const PARALLEL_ATTEMPTS = 8;
/** Tries of one attempt's job that threw (database unreachable …) before BullMQ drops it (the sweep re-adds it). */
const JOB_TRIES = 5;
const JOB_BACKOFF_MS = 1_000;
/** How long adding an attempt may wait for Redis before it is given up (the row waits for the sweep then). */
const SCHEDULE_WAIT_MS = 5_000;

export interface WebhookQueueSettings {
  redisUrl: string;
  /** REDIS_KEY_PREFIX. */
  keyPrefix: string;
  nodeId: string;
  /** JOB_LOCK_SECONDS, ms: how long a node's hold on an attempt's job lasts without renewal (then another takes it). */
  lockMs: number;
}

interface AttemptData {
  delivery: string;
  /** The attempt this job makes (1 = the first). */
  attempt: number;
}

/**
 * What became of one attempt's job: `done` (made, or no longer due: its row moved on), `{ laterMs }` (not due yet:
 * look again then), `abandoned` (this node is stopping: another node, or this one's restart, makes it).
 */
export type AttemptEnd = 'done' | 'abandoned' | { laterMs: number };

/** Makes the attempt `attempt` of a delivery (the dispatcher: it claims the row first). */
export type AttemptHandler = (deliveryId: string, attempt: number) => Promise<AttemptEnd>;

/** The job id of one attempt: adding an attempt already queued is a no-op, so re-adding is always safe. */
export const attemptJobId = (deliveryId: string, attempt: number) => `${deliveryId}-${attempt}`;

export class WebhookQueue {
  private worker: Worker<AttemptData> | undefined;

  private constructor(
    private readonly settings: WebhookQueueSettings,
    private readonly log: Logger,
    private readonly queue: Queue<AttemptData>,
  ) {}

  static open(settings: WebhookQueueSettings, log: Logger): WebhookQueue {
    const queue = new Queue<AttemptData>('webhooks', {
      connection: bullConnection(settings.redisUrl),
      prefix: bullPrefix(settings.keyPrefix),
    });
    queue.on('error', (err) => log.error({ err }, 'webhook queue (BullMQ) connection error'));
    return new WebhookQueue(settings, log, queue);
  }

  /**
   * Queues an attempt, delayed until `dueAt` (an ISO time); a no-op when that attempt is queued already. Throws when
   * Redis does not take it within SCHEDULE_WAIT_MS (BullMQ would wait for it indefinitely).
   */
  async schedule(deliveryId: string, attempt: number, dueAt: string): Promise<void> {
    const added = this.queue.add(
      'attempt',
      { delivery: deliveryId, attempt },
      {
        jobId: attemptJobId(deliveryId, attempt),
        delay: Math.max(0, Date.parse(dueAt) - Date.now()),
        attempts: JOB_TRIES,
        backoff: { type: 'exponential', delay: JOB_BACKOFF_MS },
        // The row is the record: a job leaves nothing behind, so the sweep can always add an attempt again.
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
    void added.catch(() => undefined); // given up on below, it may still fail later
    if (!(await within(added, SCHEDULE_WAIT_MS))) throw new Error(`Redis did not answer within ${SCHEDULE_WAIT_MS} ms`);
    await added;
  }

  /** Starts this node's worker (nodes that run jobs). */
  start(handler: AttemptHandler): void {
    const { lockMs } = this.settings;
    this.worker = new Worker<AttemptData>('webhooks', (job, token) => this.process(handler, job, token), {
      connection: bullConnection(this.settings.redisUrl),
      prefix: bullPrefix(this.settings.keyPrefix),
      concurrency: PARALLEL_ATTEMPTS,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      // A job whose node died is taken by another; its row's claim lapses before that node can send it again.
      maxStalledCount: 5,
      name: this.settings.nodeId,
    });
    this.worker.on('error', (err) => this.log.error({ err }, 'webhook worker (BullMQ) error'));
    this.worker.on('failed', (job, err) =>
      this.log.warn({ err, job: job?.id, tries: job?.attemptsMade }, 'webhook attempt job failed in the queue'),
    );
  }

  private async process(handler: AttemptHandler, job: Job<AttemptData>, token: string | undefined): Promise<void> {
    const end = await handler(job.data.delivery, job.data.attempt);
    if (end === 'done') return;
    // Not a failed try: the job waits in the delayed set until the attempt is due (or for another node, at once).
    await job.moveToDelayed(Date.now() + (end === 'abandoned' ? 0 : end.laterMs), token);
    throw new DelayedError();
  }

  async depth(): Promise<QueueDepth> {
    return depthOf(this.queue);
  }

  /** Closes the worker (its attempts in flight end first: stop the dispatcher's sends before) and the queue. */
  async stop(): Promise<void> {
    if (this.worker && !(await within(this.worker.close(), CLOSE_WAIT_MS))) {
      this.log.warn('the webhook worker did not close in time (Redis unreachable?): dropping its connection');
      await within(this.worker.disconnect(), CLOSE_WAIT_MS);
    }
    if (!(await within(this.queue.close(), CLOSE_WAIT_MS))) {
      this.log.warn('the webhook queue did not close in time (Redis unreachable?): dropping its connection');
      await within(this.queue.disconnect(), CLOSE_WAIT_MS);
    }
  }
}
