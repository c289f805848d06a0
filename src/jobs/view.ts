// How a job is shown, to API clients and in webhook payloads: its state, result or problem, and its delivery log.
import type { ProblemDoc } from '../problems.js';
import type { DeliveryRow, JobRow, JsonObject } from '../store/index.js';

import { PERSON_EVENTS, type PersonEvent } from '../engine/events.js';

/** Webhook events of a job: its states, and each event of its turn that waits for a person (`approval.requested` …). */
export const PERSON_WEBHOOK_EVENTS = PERSON_EVENTS.map((e) => `${e}.requested` as const);
export type JobEventType =
  'job.started' | 'job.succeeded' | 'job.failed' | 'job.cancelled' | (typeof PERSON_WEBHOOK_EVENTS)[number];

/** The webhook event that announces a pause of a job's turn. */
export function personWebhookEvent(event: PersonEvent): JobEventType {
  return `${event.type}.requested`;
}

/** The stored turn result as a sync chat returns it. */
export function jobResultView(result: Record<string, unknown> | null) {
  if (!result) return null;
  return {
    turn_id: result.turn_id as string,
    session_id: result.session_id as string,
    status: result.status === 'interrupted' ? ('interrupted' as const) : ('ok' as const),
    content: result.content as string,
    cost_usd: result.cost_usd as number,
    cost: result.cost_usd as number,
    duration_ms: result.duration_ms as number,
    num_turns: result.num_turns as number,
    usage: result.usage as {
      input_tokens: number;
      output_tokens: number;
      cache_read_input_tokens: number;
      cache_creation_input_tokens: number;
    },
    tools_used: result.tools_used as { name: string; input: unknown }[],
    stop_reason: (result.stop_reason as string | null) ?? null,
    model: (result.model as string | null) ?? null,
  };
}

/**
 * One webhook message of the job. Messages to the server-wide WEBHOOK_URL show `target: "server"` and no URL
 * (the operator's endpoint is not the client's business).
 */
export function deliveryView(d: DeliveryRow, job: Pick<JobRow, 'webhook_url'>) {
  const target = d.url === job.webhook_url ? ('job' as const) : ('server' as const);
  return {
    id: d.id,
    event: d.event,
    target,
    url: target === 'job' ? d.url : null,
    status: d.status,
    attempts: d.attempts,
    next_attempt_at: d.status === 'pending' ? d.next_attempt_at : null,
    log: d.log,
  };
}

/** A job's status as shown: the stored `succeeded` is the Python seed's `done`, which its clients poll for. */
export function shownStatus(status: JobRow['status']) {
  return status === 'succeeded' ? ('done' as const) : status;
}

/** The job without its delivery log (the webhook payload's `data`). */
export function jobData(row: JobRow) {
  const result = jobResultView(row.result);
  return {
    id: row.id,
    session: row.session_name,
    status: shownStatus(row.status),
    message: row.message,
    options: row.options,
    webhook_url: row.webhook_url,
    metadata: (row.metadata ?? null) as JsonObject | null,
    turn_id: row.turn_id,
    result,
    error: row.error as ProblemDoc | null,
    cost: result?.cost_usd ?? 0,
    duration_ms: result?.duration_ms ?? 0,
    attempts: row.attempts,
    restarts: row.restarts,
    created_at: row.created_at,
    started_at: row.started_at,
    finished_at: row.finished_at,
    completed_at: row.finished_at,
    updated_at: row.updated_at,
  };
}

export function jobView(row: JobRow, deliveries: DeliveryRow[]) {
  return { ...jobData(row), webhooks: deliveries.filter((d) => d.job_id === row.id).map((d) => deliveryView(d, row)) };
}

/** The body of a webhook message (Standard Webhooks shape: type, timestamp, data). */
export function webhookPayload(type: JobEventType, row: JobRow, at = new Date(), extra: JsonObject = {}): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data: { ...jobData(row), ...extra } });
}
