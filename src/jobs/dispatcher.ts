// The webhook dispatcher: stores each job event per target, signs it (Standard Webhooks) and delivers it at least once, with backoff.
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

/** Attempts in flight at once. */
const PARALLEL_ATTEMPTS = 8;
/** Longest sleep between looks at the table (other instances may add deliveries). */
const POLL_MS = 5_000;
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
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();
  private readonly pump = new Pump(
    {
      work: () => this.sendDue(),
      nextDelayMs: () => this.nextDelay(),
      onError: (err) => this.log.error({ err }, 'webhook dispatcher failed to read deliveries; retrying'),
    },
    POLL_MS,
  );
  private started = false;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly settings: DispatcherSettings,
    private readonly log: Logger,
    private readonly resolver?: Resolver,
    private readonly observer: JobsObserver = {},
  ) {
    this.signer = new Webhook(settings.secret);
  }

  /** Starts delivering: pending deliveries left by an earlier process go first. */
  start(): void {
    this.started = true;
    this.kick();
  }

  /** Stops the loop and abandons attempts in flight (they stay pending and are retried by the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pump.stop();
    this.abort.abort();
    await Promise.allSettled([...this.inflight.values()]);
  }

  /** Stores the event for the job's own webhook_url and WEBHOOK_URL (each once), then delivers it. */
  async enqueue(type: JobEventType, job: JobRow, extra?: JsonObject): Promise<void> {
    const targets = [...new Set([job.webhook_url, this.settings.url].filter((u): u is string => !!u))];
    if (targets.length === 0) return;
    const payload = webhookPayload(type, job, new Date(), extra);
    for (const url of targets) {
      await this.store.deliveries.insert({
        id: `msg_${timeOrderedId().replace(/-/g, '')}`,
        job_id: job.id,
        owner: job.owner,
        event: type,
        url,
        payload,
      });
    }
    this.kick();
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
      const attempt = this.attempt(d)
        .catch((err: unknown) => this.log.error({ err, delivery: d.id }, 'webhook delivery bookkeeping failed'))
        .finally(() => {
          this.inflight.delete(d.id);
          this.kick();
        });
      this.inflight.set(d.id, attempt);
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

  private async attempt(d: DeliveryRow): Promise<void> {
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
        return;
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
    await this.store.deliveries.recordAttempt(d.id, {
      status: delivered ? 'delivered' : gaveUp ? 'failed' : 'pending',
      attempts: attempt,
      nextAttemptAt,
      entry: entry(statusCode, error),
    });
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
  }
}
