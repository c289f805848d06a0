// The job rules the HTTP layer calls: create (checked: session, options, webhook URL, metadata), list, get, cancel, events.
import type { Config } from '../config/index.js';
import { checkOptions } from '../engine/options.js';
import type { EventStream } from '../engine/events.js';
import { assertRules } from '../approvals/service.js';
import { ProblemError } from '../problems.js';
import { pickOptions, type ChatCaller, type ChatInput, type SessionService } from '../sessions/service.js';
import type { JobRow, JobStatus, Store } from '../store/index.js';
import { jobEventStream } from './event-source.js';
import type { JobsObserver } from './observer.js';
import { timeOrderedId } from './ids.js';
import { parseWebhookUrl, resolveWebhookTarget, UnsafeUrlError, type Resolver } from './ssrf.js';
import { jobView, shownStatus } from './view.js';
import type { JobQueue, QueueDepth } from './queue.js';
import type { JobRunner } from './runner.js';

export interface JobInput extends ChatInput {
  webhook_url?: string;
  /** Small JSON echoed back on the job and in its webhooks. */
  metadata?: unknown;
}

/** Largest `metadata`, as JSON text. */
export const METADATA_MAX_BYTES = 16 * 1024;

/** `done` is the seed's name for a job that finished well. */
export const STATUS_ALIASES: Record<string, JobStatus> = { done: 'succeeded' };

export type JobView = ReturnType<typeof jobView>;

function validation(pointer: string, message: string): ProblemError {
  return new ProblemError(422, 'validation-failed', 'Validation failed', message, {
    errors: [{ location: 'body', pointer, message }],
  });
}

export class JobService {
  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly sessions: SessionService,
    private readonly worker: JobQueue,
    /** Runs this process's jobs: their live turns. */
    private readonly runner: JobRunner,
    private readonly resolver?: Resolver,
    private readonly observer: JobsObserver = {},
    /** The webhook queue's figures (BullMQ); undefined when webhooks are polled from the table. */
    private readonly webhookDepth: () => Promise<QueueDepth> | undefined = () => undefined,
  ) {}

  get backend(): 'database' | 'redis' {
    return this.worker.backend;
  }

  get runsJobs(): boolean {
    return this.worker.runsJobs;
  }

  /**
   * Where jobs are queued (`database` or `redis`), whether this node runs them, how many the queue holds, and with
   * BullMQ how many webhook attempts its queue holds.
   */
  async queueStatus(): Promise<
    { backend: 'database' | 'redis'; runs_jobs: boolean } & QueueDepth & { webhooks?: QueueDepth }
  > {
    const [depth, webhooks] = await Promise.all([this.worker.depth(), this.webhookDepth()]);
    return {
      backend: this.worker.backend,
      runs_jobs: this.worker.runsJobs,
      ...depth,
      ...(webhooks ? { webhooks } : {}),
    };
  }

  /** Queues a job that runs as `caller`'s key; refused (429) at once when that key has already spent its limit. */
  async create(tenant: string, name: string, input: JobInput, caller: ChatCaller = {}): Promise<JobView> {
    const session = await this.sessions.get(tenant, name);
    // Refused now, as chat refuses it, rather than accepted and failed later.
    this.sessions.moderate(input.message);
    const options = pickOptions(input);
    this.sessions.moderate(options.system_prompt, '/system_prompt');
    assertRules(input.permission_rules);
    const problems = checkOptions(this.config.claude, options);
    if (problems.length > 0) {
      throw new ProblemError(422, 'validation-failed', 'Validation failed', problems.map((p) => p.message).join('; '), {
        errors: problems.map((p) => ({ location: 'body', pointer: `/${p.field}`, message: p.message })),
      });
    }
    if (input.metadata !== undefined && Buffer.byteLength(JSON.stringify(input.metadata)) > METADATA_MAX_BYTES) {
      throw validation('/metadata', `metadata must be at most ${METADATA_MAX_BYTES} bytes as JSON`);
    }
    if (input.webhook_url !== undefined) await this.checkWebhookUrl(input.webhook_url);
    await this.sessions.assertCanSpend(tenant, caller);
    const row = await this.store.jobs.create({
      id: timeOrderedId(),
      owner: tenant,
      key_id: caller.keyId ?? null,
      session_id: session.id,
      session_name: session.name,
      message: input.message,
      // The job's own permission rules travel with its options to the turn (request level).
      options: { ...options, ...(input.permission_rules && { permission_rules: input.permission_rules }) },
      webhook_url: input.webhook_url ?? null,
      metadata: input.metadata,
    });
    this.observer.jobState?.('queued');
    await this.worker.enqueue(row);
    return jobView(row, []);
  }

  async list(
    tenant: string,
    name: string,
    status: string | undefined,
    offset: number,
    limit: number,
  ): Promise<{ items: JobView[]; total: number }> {
    const session = await this.sessions.get(tenant, name);
    const statuses = status === undefined ? undefined : [STATUS_ALIASES[status] ?? (status as JobStatus)];
    const page = await this.store.jobs.listBySession(session.id, statuses, { offset, limit });
    const deliveries = await this.store.deliveries.listByJobs(page.items.map((j) => j.id));
    return { items: page.items.map((j) => jobView(j, deliveries)), total: page.total };
  }

  async get(tenant: string, name: string, id: string): Promise<JobView> {
    return this.view(await this.row(tenant, name, id));
  }

  /** Cancels a queued or running job (see JobQueue.cancel); 409 for one that has already ended. */
  async cancel(tenant: string, name: string, id: string): Promise<JobView> {
    const before = await this.row(tenant, name, id);
    if (before.status === 'succeeded' || before.status === 'failed' || before.status === 'cancelled')
      throw this.alreadyEnded(before);
    const after = await this.worker.cancel(id);
    if (!after) throw this.notFound(id);
    if (
      after.status !== 'cancelled' &&
      after.status !== 'queued' &&
      after.status !== 'running' &&
      after.status !== 'waiting'
    )
      throw this.alreadyEnded(after);
    return this.view(after);
  }

  /** The job's events (replay, then live) for an SSE response. */
  async events(tenant: string, name: string, id: string): Promise<EventStream> {
    await this.row(tenant, name, id);
    return jobEventStream(id, this.runner, this.store);
  }

  /** 422 unless the URL is http(s) and (WEBHOOK_ALLOW_PRIVATE aside) every address its host resolves to now is public. */
  private async checkWebhookUrl(raw: string): Promise<void> {
    try {
      const url = parseWebhookUrl(raw);
      if (!this.config.webhooks.allowPrivate)
        await resolveWebhookTarget(url, { allowPrivate: false, resolver: this.resolver });
    } catch (err) {
      if (err instanceof UnsafeUrlError)
        throw new ProblemError(422, 'webhook-url-refused', 'Webhook URL refused', `webhook_url ${err.message}.`, {
          errors: [{ location: 'body', pointer: '/webhook_url', message: err.message }],
        });
      throw err;
    }
  }

  private async view(row: JobRow): Promise<JobView> {
    return jobView(row, await this.store.deliveries.listByJobs([row.id]));
  }

  private async row(tenant: string, name: string, id: string): Promise<JobRow> {
    const session = await this.sessions.get(tenant, name);
    const row = await this.store.jobs.findById(id);
    if (!row || row.session_id !== session.id || row.owner !== tenant) throw this.notFound(id);
    return row;
  }

  private notFound(id: string): ProblemError {
    return new ProblemError(404, 'not-found', 'Not found', `No job ${JSON.stringify(id)} on this session.`);
  }

  private alreadyEnded(row: JobRow): ProblemError {
    return new ProblemError(
      409,
      'job-finished',
      'Job already finished',
      `The job has already ended (${shownStatus(row.status)}); only queued or running jobs can be cancelled.`,
      { job_status: shownStatus(row.status) },
    );
  }
}
