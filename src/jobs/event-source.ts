// A job's event stream for SSE: waits while the job is queued, then the live turn's events, else the events the job stored.
import type { EventStream, NumberedEvent } from '../engine/events.js';
import type { Store } from '../store/index.js';
import { ENDED_JOB_STATUSES } from './queue.js';
import type { JobRunner } from './runner.js';

const isFinal = (e: NumberedEvent) => e.event.type === 'result' || e.event.type === 'error';

/**
 * Replays a job's events after `afterId` and follows it live: from the engine's Turn while this process runs it
 * (it keeps the whole log), else from what the job stored when it ended (a job another node runs shows its events
 * once it has ended). Ends after the final `result` or `error`.
 */
export function jobEventStream(
  jobId: string,
  runner: Pick<JobRunner, 'turnOf' | 'waitForChange'>,
  store: Store,
): EventStream {
  let finished = false;
  return {
    get finished() {
      return finished;
    },
    async *events(afterId: number, signal?: AbortSignal) {
      let last = afterId;
      try {
        while (!signal?.aborted) {
          const turn = runner.turnOf(jobId);
          if (turn) {
            for await (const e of turn.events(last, signal)) {
              yield e;
              last = e.id;
              if (isFinal(e)) return;
            }
            if (signal?.aborted) return;
          }
          const row = await store.jobs.findById(jobId);
          if (!row) return;
          if (ENDED_JOB_STATUSES.has(row.status)) {
            for (const e of (row.events ?? []) as NumberedEvent[]) if (e.id > last) yield e;
            return;
          }
          // Queued (or its turn ended without starting): wait until the job moves, unless a new turn just appeared.
          if (runner.turnOf(jobId) === turn) await runner.waitForChange(jobId, signal);
        }
      } finally {
        finished = true;
      }
    },
  };
}
