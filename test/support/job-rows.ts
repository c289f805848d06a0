// What the webhook tests start from: dispatcher settings with quick retries, and a job that has just succeeded (its webhook due) under a new id each time.
import type { DispatcherSettings } from '../../src/jobs/dispatcher.js';
import type { JobRow } from '../../src/store/index.js';

/** A dispatcher's settings for tests: three quick attempts, signed with `secret`. */
export function dispatcherSettings(secret: string, extra: Partial<DispatcherSettings> = {}): DispatcherSettings {
  return {
    secret,
    maxAttempts: 3,
    timeoutMs: 2000,
    retryBaseMs: 20,
    retryMaxMs: 100,
    allowPrivate: false,
    userAgent: 'test',
    ...extra,
  };
}

let n = 0;

export function finishedJob(webhookUrl: string): JobRow {
  const at = new Date().toISOString();
  return {
    id: `00000000-0000-7000-8000-${String(++n).padStart(12, '0')}`,
    owner: 'tenant',
    key_id: null,
    session_id: 'no-such-session',
    session_name: 'demo',
    status: 'succeeded',
    message: 'hi',
    options: {},
    webhook_url: webhookUrl,
    metadata: null,
    turn_id: null,
    result: null,
    error: null,
    events: null,
    attempts: 1,
    restarts: 0,
    run_after: null,
    created_at: at,
    updated_at: at,
    started_at: at,
    finished_at: at,
  };
}
