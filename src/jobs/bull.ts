// What the two BullMQ queues (jobs, webhook attempts) share: their Redis connection settings, key prefix, depth and bounded close.
import type { Queue } from 'bullmq';
import type { QueueDepth } from './queue.js';

/** BullMQ's own connections: it blocks on Redis and needs commands that wait rather than fail while reconnecting. */
export function bullConnection(url: string) {
  return { url, maxRetriesPerRequest: null, enableOfflineQueue: true };
}

/** BullMQ's keys live under REDIS_KEY_PREFIX too. */
export function bullPrefix(keyPrefix: string): string {
  return `${keyPrefix}bull`;
}

/** How long a graceful close of a BullMQ connection may take before it is dropped. */
export const CLOSE_WAIT_MS = 5_000;

/** Whether `p` settles within `ms` (its outcome ignored either way). */
export async function within(p: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      Promise.resolve(p).then(
        () => true,
        () => true,
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A BullMQ queue's figures as health and metrics show them (prioritized jobs count as waiting). */
export async function depthOf(queue: Queue): Promise<QueueDepth> {
  const c = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
  return {
    waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
    active: c.active ?? 0,
    delayed: c.delayed ?? 0,
    failed: c.failed ?? 0,
  };
}
