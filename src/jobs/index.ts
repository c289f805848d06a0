// Builds the jobs layer (signing secret, webhook dispatcher, job worker, job service) and starts and stops it with the server.
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { ApprovalService } from '../approvals/service.js';
import type { SessionService } from '../sessions/service.js';
import type { Store } from '../store/index.js';
import { dispatcherSettings, WebhookDispatcher } from './dispatcher.js';
import { loadWebhookSecret } from './secret.js';
import type { JobsObserver } from './observer.js';
import { JobService } from './service.js';
import type { Resolver } from './ssrf.js';
import { JobWorker } from './worker.js';

export interface Jobs {
  service: JobService;
  worker: JobWorker;
  dispatcher: WebhookDispatcher;
  /** The webhook signing secret in use (`whsec_…`). */
  secret: string;
  /** Starts delivering webhooks, settles jobs a dead process left running, then runs queued jobs. */
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
  const dispatcher = new WebhookDispatcher(store, dispatcherSettings(config, secret, version), log, resolver, observer);
  const worker = new JobWorker(
    store,
    sessions,
    dispatcher,
    { ...config.jobs, perKey: config.engine.maxConcurrentTurnsPerKey },
    log,
    observer,
    approvals,
  );
  const service = new JobService(config, store, sessions, worker, resolver, observer);
  return {
    service,
    worker,
    dispatcher,
    secret,
    async start() {
      dispatcher.start();
      await worker.start();
    },
    stopIntake: () => worker.stopIntake(),
    async stop() {
      await worker.stop();
      await dispatcher.stop();
    },
  };
}
