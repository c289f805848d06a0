// What the two BullMQ queues (jobs, webhook attempts) share: their Redis connection settings, key prefix and bounded close.

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
