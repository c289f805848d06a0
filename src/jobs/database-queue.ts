// The job queue of one process over the jobs table (no Redis): runs queued jobs (one per session at a time, JOB_CONCURRENCY overall), recovers after restarts.
import type { Logger } from 'pino';
import type { JobRow, Store } from '../store/index.js';
import { cancelledProblem } from './problems.js';
import { Pump } from './pump.js';
import { BUSY_DELAY_MS, type JobQueue, type QueueDepth } from './queue.js';
import { keyOf, type JobRunner } from './runner.js';

/** Longest wait between looks at the queue (a delayed job's run_after, or work added by another process). */
const POLL_MS = 5_000;

export interface QueueSettings {
  concurrency: number;
  /** Most jobs of one key running or waiting for a turn slot (MAX_CONCURRENT_TURNS_PER_KEY); no cap when unset. */
  perKey?: number;
}

export class DatabaseJobQueue implements JobQueue {
  readonly backend = 'database';
  readonly runsJobs = true;
  private readonly pump = new Pump(
    {
      work: () => this.launchRunnable(),
      nextDelayMs: async () => {
        const next = await this.store.jobs.nextRunAfter();
        const due = next === undefined ? undefined : Date.parse(next) - Date.now();
        // A key whose start window fills has jobs skipped meanwhile: look again when it has room.
        const opens = this.runner.keysOverRate().opensInMs;
        return opens === undefined ? due : Math.min(opens, due ?? opens);
      },
      onError: (err) => this.log.error({ err }, 'job queue could not be read; retrying'),
    },
    POLL_MS,
  );
  private started = false;

  constructor(
    private readonly store: Store,
    private readonly runner: JobRunner,
    private readonly settings: QueueSettings,
    private readonly log: Logger,
  ) {}

  /** Settles jobs a dead process left running (re-queue once, or fail), then starts taking queued jobs. */
  async start(): Promise<void> {
    for (const job of await this.store.jobs.running()) await this.runner.recoverLeft(job);
    this.started = true;
    this.notify();
  }

  enqueue(): Promise<void> {
    this.notify();
    return Promise.resolve();
  }

  stopIntake(): void {
    this.runner.stopping = true;
    this.pump.stop();
  }

  async stop(): Promise<void> {
    this.stopIntake();
    await this.runner.settled();
  }

  /** Looks at the queue soon (a job was added or a slot came free). */
  notify(): void {
    if (this.started && !this.runner.stopping) this.pump.kick(0);
  }

  async cancel(jobId: string): Promise<JobRow | undefined> {
    if (await this.runner.cancelHere(jobId)) return this.store.jobs.findById(jobId);
    return (
      (await this.runner.endQueued(jobId, 'cancelled', cancelledProblem(false))) ?? this.store.jobs.findById(jobId)
    );
  }

  async failQueuedOf(owner: string): Promise<number> {
    return (await this.runner.failQueuedOf(owner)).length;
  }

  depth(): Promise<QueueDepth> {
    return this.store.jobs.depth();
  }

  /** Launches the queued jobs there is room for, one per session. */
  private async launchRunnable(): Promise<void> {
    const { concurrency } = this.settings;
    if (this.runner.stopping || this.runner.active >= concurrency) return;
    // A key at its share, or over its start rate, waits here rather than take the worker's room from other keys' jobs.
    const perKey = this.settings.perKey ?? Infinity;
    const held = this.runner.heldByKey();
    const fullKeys = [...held].filter(([, n]) => n >= perKey).map(([k]) => k);
    fullKeys.push(...this.runner.keysOverRate().keys);
    const busy = this.runner.busySessions();
    const candidates = await this.store.jobs.runnable(concurrency - this.runner.active, [...busy], undefined, fullKeys);
    for (const job of candidates) {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stopIntake() may have run while runnable() was awaited
      if (this.runner.stopping || this.runner.active >= concurrency) break;
      if (this.runner.runs(job.id) || busy.has(job.session_id)) continue;
      if ((held.get(keyOf(job)) ?? 0) >= perKey) continue;
      held.set(keyOf(job), (held.get(keyOf(job)) ?? 0) + 1);
      busy.add(job.session_id);
      this.launch(job);
    }
  }

  private launch(job: JobRow): void {
    void this.runner
      .run(job, async (laterMs = BUSY_DELAY_MS) => {
        await this.store.jobs.delay(job.id, new Date(Date.now() + laterMs).toISOString());
        this.runner.changed(job.id);
      })
      .finally(() => this.notify());
  }
}
