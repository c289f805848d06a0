// JobQueue: what the job service asks of the queue that carries jobs to a runner, in one process (database) or across nodes (BullMQ).
import type { JobRow, JobStatus } from '../store/index.js';

/** The states a job does not leave. */
export const ENDED_JOB_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);
/** How long a job waits before another try when every turn slot, or its session's queue, was full. */
export const BUSY_DELAY_MS = 1_000;

/** How many jobs the queue holds, by state. */
export interface QueueDepth {
  /** Queued and due. */
  waiting: number;
  /** Running (or waiting for a person). */
  active: number;
  /** Queued for later (a retry, a busy session or turn slot). */
  delayed: number;
  /** Failed (the queue's own record: the database counts failed jobs, BullMQ the runs it gave up on and keeps). */
  failed: number;
}

export interface JobQueue {
  /** `database`: this process polls the jobs table; `redis`: BullMQ carries the jobs between nodes. */
  readonly backend: 'database' | 'redis';
  /** Whether this node runs jobs (NODE_ROLE all or worker). */
  readonly runsJobs: boolean;
  /** Recovers what a stopped process left behind, then starts taking jobs (when this node runs jobs). */
  start(): Promise<void>;
  /** Hands a job just stored as `queued` to the queue; throws (and fails the job) when the queue cannot take it. */
  enqueue(job: JobRow): Promise<void>;
  /**
   * Cancels a job. A queued one ends `cancelled` without running; a running one has its turn interrupted wherever
   * it runs and ends `cancelled` (this waits for that). Returns the job as it is afterwards, or undefined if it is
   * gone; a job that had already ended is returned unchanged (the caller answers 409).
   */
  cancel(jobId: string): Promise<JobRow | undefined>;
  /** Fails the queued jobs of a tenant whose key was revoked; how many. */
  failQueuedOf(owner: string): Promise<number>;
  /** Looks at the queue soon: a place came free (a job began waiting for a person). */
  notify(): void;
  depth(): Promise<QueueDepth>;
  /** Takes no new job from now on (running ones go on). */
  stopIntake(): void;
  /** Waits for the jobs in flight to settle (call after the engine has shut down, which ends their turns). */
  stop(): Promise<void>;
}
