// Deletes, on a timer, the sessions compatible endpoints opened by themselves once they have been idle for
// COMPAT_SESSION_IDLE_HOURS, so stateless clients do not fill a key's MAX_SESSIONS_PER_USER and the disk.
import type { Logger } from 'pino';
import type { ConversationService } from './conversations.js';

export interface IdleSweep {
  /** Runs one sweep now (also what the timer runs); resolves with how many sessions it deleted. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

/** Sweeps every tenth of the idle time, at least once an hour and at most once a minute; `idleMs` 0 = never. */
export function startIdleSweep(conversations: ConversationService, idleMs: number, log: Logger): IdleSweep {
  let running: Promise<number> | undefined;
  const sweep = () =>
    (running ??= conversations
      .sweepIdle(idleMs)
      .then(
        (n) => {
          if (n > 0) log.info({ deleted: n }, `deleted ${n} idle session(s) opened by the compatible endpoints`);
          return n;
        },
        (err: unknown) => {
          log.warn({ err }, 'could not delete idle sessions of the compatible endpoints');
          return 0;
        },
      )
      .finally(() => (running = undefined)));
  const everyMs = Math.min(3_600_000, Math.max(60_000, idleMs / 10));
  const timer = idleMs > 0 ? setInterval(() => void sweep(), everyMs).unref() : undefined;
  return {
    sweep: () => (idleMs > 0 ? sweep() : Promise.resolve(0)),
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
