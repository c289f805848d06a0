// Job rows for the webhook tests: a job that has just succeeded, with its webhook due, under a new id each time.
import type { JobRow } from '../../src/store/index.js';

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
