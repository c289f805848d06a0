// JobsObserver: how the jobs layer reports to whoever watches it (the metrics), given to each of its parts.

/** Watches the jobs layer (metrics): a job entering a state, a webhook attempt's outcome. */
export interface JobsObserver {
  jobState?(state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'): void;
  webhookAttempt?(outcome: 'ok' | 'failed'): void;
}
