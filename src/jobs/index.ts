// Builds the jobs layer (signing secret, webhook dispatcher, job runner, the queues: BullMQ with REDIS_URL, else the tables) and starts and stops it with the server.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { ApprovalService } from '../approvals/service.js';
import type { SessionService } from '../sessions/service.js';
import type { Store } from '../store/index.js';
import { connectRedis } from '../store/redis.js';
import { BullJobQueue } from './bull-queue.js';
import { DatabaseJobQueue } from './database-queue.js';
import { dispatcherSettings, WebhookDispatcher } from './dispatcher.js';
import { loadWebhookSecret } from './secret.js';
import type { JobsObserver } from './observer.js';
import type { JobQueue } from './queue.js';
import { JobRunner } from './runner.js';
import { JobService } from './service.js';
import type { Resolver } from './ssrf.js';
import { WebhookQueue } from './webhook-queue.js';
import { MemoryStartRate, RedisStartRate } from './start-rate.js';

export type { JobQueue, QueueDepth } from './queue.js';

export interface Jobs {
  service: JobService;
  /** The queue that carries jobs to a runner (and cancels them wherever they run). */
  worker: JobQueue;
  /** Runs this process's jobs (their live turns; a revoked key's are failed here). */
  runner: JobRunner;
  dispatcher: WebhookDispatcher;
  /** The webhook signing secret in use (`whsec_…`). */
  secret: string;
  /** Starts delivering webhooks, settles jobs a dead process left running, then runs queued jobs (nodes that run jobs). */
  start(): Promise<void>;
  /** Takes no new job (call before the engine shuts down). */
  stopIntake(): void;
  /** Waits for jobs in flight to settle and stops the dispatcher (call after the engine has shut down). */
  stop(): Promise<void>;
}

export interface JobsDeps {
  config: Config;
  store: Store;
  sessions: SessionService;
  /** Pauses of job turns become webhooks, and a waiting job frees its place. */
  approvals?: ApprovalService;
  log: Logger;
  version: string;
  /** DNS for webhook targets (tests); the system resolver by default. */
  resolver?: Resolver;
  observer?: JobsObserver;
}

export async function createJobs({
  config,
  store,
  sessions,
  approvals,
  log,
  version,
  resolver,
  observer = {},
}: JobsDeps): Promise<Jobs> {
  const secret = await loadWebhookSecret(config.webhooks.secret, config.dataDir, log);
  // With Redis each webhook attempt is a BullMQ job (a queue of its own), delayed by its backoff.
  const webhookQueue = config.redis.url
    ? WebhookQueue.open(
        {
          redisUrl: config.redis.url,
          keyPrefix: config.redis.keyPrefix,
          nodeId: config.node.id,
          lockMs: config.jobs.lockMs,
        },
        log,
      )
    : undefined;
  const dispatcher = new WebhookDispatcher(
    store,
    dispatcherSettings(config, secret, version),
    log,
    resolver,
    observer,
    webhookQueue,
  );
  const runsJobs = config.node.role !== 'api';
  let queue: JobQueue | undefined;
  const runner = new JobRunner(
    store,
    sessions,
    dispatcher,
    config.jobs.retryOnRestart,
    log,
    observer,
    approvals,
    // A job waiting for a person frees its place in the database queue (BullMQ keeps counting it).
    () => queue?.notify(),
  );
  const perKey = config.engine.maxConcurrentTurnsPerKey;
  let redis: Redis | undefined;
  if (config.redis.url) {
    redis = await connectRedis(config.redis.url, {
      onError: (err) => log.warn({ err }, 'job queue: Redis connection error'),
    });
    queue = BullJobQueue.open(
      store,
      runner,
      {
        redisUrl: config.redis.url,
        keyPrefix: config.redis.keyPrefix,
        nodeId: config.node.id,
        runsJobs,
        concurrency: config.jobs.concurrency,
        perKey,
        lockMs: config.jobs.lockMs,
      },
      log,
      redis,
    );
    if (config.jobs.startsPerKey)
      runner.startRate = new RedisStartRate(redis, config.redis.keyPrefix, config.jobs.startsPerKey);
  } else {
    queue = new DatabaseJobQueue(store, runner, { concurrency: config.jobs.concurrency, perKey }, log);
    if (config.jobs.startsPerKey) runner.startRate = new MemoryStartRate(config.jobs.startsPerKey);
  }
  const jobQueue = queue;
  const service = new JobService(config, store, sessions, jobQueue, runner, resolver, observer, () =>
    dispatcher.depth(),
  );
  return {
    service,
    worker: jobQueue,
    runner,
    dispatcher,
    secret,
    async start() {
      // Nodes that run jobs deliver webhooks too; an api node's deliveries are claimed by them (each row once).
      if (runsJobs) dispatcher.start();
      await jobQueue.start();
    },
    stopIntake: () => jobQueue.stopIntake(),
    async stop() {
      await jobQueue.stop();
      await dispatcher.stop();
      redis?.disconnect();
    },
  };
}
