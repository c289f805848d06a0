// The webhook dispatcher: stores each job event per target, signs it (Standard Webhooks) and delivers it at least once, with backoff:
// polled from the table, or (REDIS_URL) each attempt a delayed BullMQ job; either way the row is claimed per attempt.
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import type { Config } from '../config/index.js';
import type { JobRow, JsonObject, Store } from '../store/index.js';
import type { DeliveryAttempt, DeliveryRow } from '../store/webhook-deliveries-repo.js';
import { retryDelayMs } from './backoff.js';
import { timeOrderedId } from './ids.js';
import { sendWebhook } from './sender.js';
import { parseWebhookUrl, resolveWebhookTarget, UnsafeUrlError, type Resolver } from './ssrf.js';
import type { JobsObserver } from './observer.js';
import { webhookPayload, type JobEventType } from './view.js';
import { Pump } from './pump.js';
import type { QueueDepth } from './queue.js';
import { PARALLEL_ATTEMPTS, type AttemptEnd, type WebhookQueue } from './webhook-queue.js';

/** Longest sleep between looks at the table (other instances may add deliveries). */
const POLL_MS = 5_000;
/** With BullMQ: how often the table is swept for due deliveries that have no job (Redis was down when it was added …). */
export const SWEEP_MS = 60_000;
/** Due deliveries one sweep looks at. */
const SWEEP_BATCH = 500;
/** Added to a claim's lease beyond the attempt's own time limit. */
const CLAIM_MARGIN_MS = 30_000;

export interface DispatcherSettings {
  url?: string;
  secret: string;
  maxAttempts: number;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  allowPrivate: boolean;
  userAgent: string;
}

export function dispatcherSettings(config: Config, secret: string, version: string): DispatcherSettings {
  return { ...config.webhooks, secret, userAgent: `claude-code-api/${version} (webhooks)` };
}

export class WebhookDispatcher {
  private readonly signer: Webhook;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly abort = new AbortController();
  /** Without BullMQ: sends the due deliveries; with it, sweeps the table for due ones without a job. */
  private readonly pump: Pump;
  private started = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly settings: DispatcherSettings,
    private readonly log: Logger,
    private readonly resolver?: Resolver,
    private readonly observer: JobsObserver = {},
    /** With REDIS_URL: the queue that carries each attempt (the table is then swept, not polled). */
    private readonly queue?: WebhookQueue,
  ) {
    this.signer = new Webhook(settings.secret);
    this.pump = queue
      ? new Pump(
          {
            work: () => this.sweep(),
            nextDelayMs: () => Promise.resolve(undefined),
            onError: (err) => this.log.error({ err }, 'webhook sweep failed to read or queue deliveries; retrying'),
          },
          SWEEP_MS,
        )
      : new Pump(
          {
            work: () => this.sendDue(),
            nextDelayMs: () => this.nextDelay(),
            onError: (err) => this.log.error({ err }, 'webhook dispatcher failed to read deliveries; retrying'),
          },
          POLL_MS,
        );
  }

  /** `redis` when each attempt is a BullMQ job, `database` when this process polls the table. */
  get backend(): 'database' | 'redis' {
    return this.queue ? 'redis' : 'database';
  }

  /**
   * Starts delivering: pending deliveries left by an earlier process go first (with BullMQ, the due ones without a
   * job are queued: reconcile).
   */
  start(): void {
    this.started = true;
    this.queue?.start((id, attempt) => this.attemptScheduled(id, attempt));
    this.kick();
  }

  /**
   * Stops the loop and abandons attempts in flight (they stay pending and are retried by the next start, or with
   * BullMQ by another node), then closes the queue.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pump.stop();
    this.abort.abort();
    await Promise.allSettled([...this.inflight.values()]);
    await this.queue?.stop();
  }

  /** The webhook queue's figures with BullMQ; undefined without it. */
  depth(): Promise<QueueDepth> | undefined {
    return this.queue?.depth();
  }

  /** Stores the event for the job's own webhook_url and WEBHOOK_URL (each once), then delivers it. */
  async enqueue(type: JobEventType, job: JobRow, extra?: JsonObject): Promise<void> {
    const targets = [...new Set([job.webhook_url, this.settings.url].filter((u): u is string => !!u))];
    if (targets.length === 0) return;
    const payload = webhookPayload(type, job, new Date(), extra);
    for (const url of targets) {
      const row = await this.store.deliveries.insert({
        id: `msg_${timeOrderedId().replace(/-/g, '')}`,
        job_id: job.id,
        owner: job.owner,
        event: type,
        url,
        payload,
      });
      await this.schedule(row.id, 1, row.next_attempt_at ?? row.created_at);
    }
    if (!this.queue) this.kick();
  }

  /** With BullMQ, queues the attempt; a failure is logged, and the row waits for the sweep (the row is the record). */
  private async schedule(id: string, attempt: number, dueAt: string): Promise<void> {
    if (!this.queue) return;
    try {
      await this.queue.schedule(id, attempt, dueAt);
    } catch (err) {
      this.log.warn(
        { err, delivery: id, attempt },
        'could not queue the webhook attempt (Redis unreachable?); the sweep queues it later',
      );
    }
  }

  /** With BullMQ: queues the due deliveries (adding one already queued is a no-op). */
  private async sweep(): Promise<void> {
    for (const d of await this.store.deliveries.due(SWEEP_BATCH)) {
      if (this.stopped) return;
      await this.queue?.schedule(d.id, d.attempts + 1, d.next_attempt_at ?? d.created_at);
    }
  }

  /**
   * Makes one attempt a BullMQ job carries, if it is still the one due: the row is claimed first, so of the nodes
   * that may hold a job for it (a stalled job taken over, a sweep's), one sends it.
   */
  private async attemptScheduled(id: string, attempt: number): Promise<AttemptEnd> {
    if (this.stopped) return 'abandoned';
    const d = await this.store.deliveries.findById(id);
    if (!d || d.status !== 'pending' || d.next_attempt_at === null || d.attempts + 1 !== attempt) return 'done';
    // Not due yet: a node may be attempting it (its claim runs until then), or another node's clock is ahead.
    const wait = Date.parse(d.next_attempt_at) - Date.now();
    if (wait > 0) return { laterMs: wait };
    if (!(await this.store.deliveries.claim(d.id, d.next_attempt_at, this.leaseUntil()))) return 'done';
    return (await this.track(d)) ? 'abandoned' : 'done';
  }

  /** Runs an attempt of a claimed delivery, counted in flight; resolves true when it was abandoned (stopping). */
  private track(d: DeliveryRow): Promise<boolean> {
    const attempt = this.attempt(d)
      .catch((err: unknown) => {
        this.log.error({ err, delivery: d.id }, 'webhook delivery bookkeeping failed');
        return false;
      })
      .finally(() => {
        this.inflight.delete(d.id);
        if (!this.queue) this.kick();
      });
    this.inflight.set(d.id, attempt);
    return attempt;
  }

  /** Signs a payload as it would be sent now: the three Standard Webhooks headers. */
  sign(messageId: string, payload: string, at = new Date()): Record<string, string> {
    return {
      'webhook-id': messageId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': this.signer.sign(messageId, at, payload),
    };
  }

  /** Schedules a pass in `delayMs`, unless one is already due sooner. */
  private kick(delayMs = 0): void {
    if (this.started && !this.stopped) this.pump.kick(delayMs);
  }

  /** Starts the due deliveries there is room for. */
  private async sendDue(): Promise<void> {
    const room = PARALLEL_ATTEMPTS - this.inflight.size;
    if (room <= 0) return;
    const due = await this.store.deliveries.due(room, [...this.inflight.keys()]);
    for (const d of due) {
      if (this.stopped || this.inflight.size >= PARALLEL_ATTEMPTS) break;
      // Another node (or process on this database) may have read the same row: the one that claims it sends it.
      if (
        d.next_attempt_at === null ||
        !(await this.store.deliveries.claim(d.id, d.next_attempt_at, this.leaseUntil()))
      )
        continue;
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run while claim() was awaited
      if (this.stopped) break;
      void this.track(d);
    }
  }

  /** Until when a claimed delivery is this process's: longer than an attempt can take (DNS, connect, answer). */
  private leaseUntil(): string {
    return new Date(Date.now() + 2 * this.settings.timeoutMs + CLAIM_MARGIN_MS).toISOString();
  }

  /** Attempts in flight kick the loop when they end; otherwise wake for the next due delivery (or poll). */
  private async nextDelay(): Promise<number | null | undefined> {
    if (this.inflight.size >= PARALLEL_ATTEMPTS) return null;
    const next = await this.store.deliveries.nextDueAt([...this.inflight.keys()]);
    return next === undefined ? undefined : Date.parse(next) - Date.now();
  }

  /** One attempt of a claimed delivery, recorded on its row; true when abandoned because this process stops. */
  private async attempt(d: DeliveryRow): Promise<boolean> {
    const attempt = d.attempts + 1;
    const startedAt = Date.now();
    const entry = (statusCode: number | null, error: string | null): DeliveryAttempt => ({
      attempt,
      at: new Date(startedAt).toISOString(),
      status_code: statusCode,
      error,
      duration_ms: Date.now() - startedAt,
    });
    let statusCode: number | null = null;
    let error: string | null = null;
    let final = false;
    try {
      const url = parseWebhookUrl(d.url);
      const addresses = await resolveWebhookTarget(url, {
        allowPrivate: this.settings.allowPrivate,
        resolver: this.resolver,
        timeoutMs: this.settings.timeoutMs,
      });
      statusCode = await sendWebhook({
        url,
        addresses,
        headers: {
          'content-type': 'application/json',
          'user-agent': this.settings.userAgent,
          ...this.sign(d.id, d.payload),
        },
        body: d.payload,
        timeoutMs: this.settings.timeoutMs,
        signal: this.abort.signal,
      });
      if (statusCode < 200 || statusCode > 299) error = `receiver answered ${statusCode}`;
    } catch (err) {
      if (this.stopped) {
        // Abandoned on shutdown: not an attempt; due again at once for the next start or another node.
        await this.store.deliveries.unclaim(d.id).catch(() => undefined);
        return true;
      }
      if (err instanceof UnsafeUrlError) {
        error = `refused: the URL ${err.message}`;
        final = true; // a refused target is not retried
      } else {
        error = (err as Error).message;
      }
    }
    const delivered = error === null;
    this.observer.webhookAttempt?.(delivered ? 'ok' : 'failed');
    const gaveUp = !delivered && (final || attempt >= this.settings.maxAttempts);
    const nextAttemptAt =
      delivered || gaveUp
        ? null
        : new Date(
            Date.now() + retryDelayMs(attempt, { baseMs: this.settings.retryBaseMs, maxMs: this.settings.retryMaxMs }),
          ).toISOString();
    const recorded = await this.store.deliveries.recordAttempt(d.id, {
      status: delivered ? 'delivered' : gaveUp ? 'failed' : 'pending',
      attempts: attempt,
      nextAttemptAt,
      entry: entry(statusCode, error),
    });
    // The retry, delayed by its backoff in the queue (the database poll finds it due on its own).
    if (recorded?.status === 'pending' && nextAttemptAt) await this.schedule(d.id, attempt + 1, nextAttemptAt);
    if (delivered)
      this.log.info(
        { delivery: d.id, job: d.job_id, event: d.event, attempt, status: statusCode },
        'webhook delivered',
      );
    else if (gaveUp)
      this.log.warn({ delivery: d.id, job: d.job_id, event: d.event, attempt, error }, 'webhook delivery given up');
    else
      this.log.info(
        { delivery: d.id, job: d.job_id, event: d.event, attempt, error, next: nextAttemptAt },
        'webhook attempt failed; will retry',
      );
    return false;
  }
}
