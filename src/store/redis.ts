// Opens the Redis connection named by REDIS_URL (shared rate-limit counters), failing fast and clearly when it is unreachable.
import { Redis } from 'ioredis';

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** The URL with any password replaced, safe to print. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}

/**
 * Connects and waits until Redis answers PING (within `timeoutMs`). Commands fail at once while the connection is
 * down (no offline queue), so callers can decide to skip rather than hang; the client keeps reconnecting.
 */
export async function connectRedis(
  url: string,
  opts: { timeoutMs?: number; onError?: (err: Error) => void } = {},
): Promise<Redis> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  let lastError: Error | undefined;
  const onError = (err: Error) => {
    lastError = err;
    opts.onError?.(err);
  };
  client.on('error', onError);
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs).unref()),
    ]);
  } catch (err) {
    client.disconnect();
    const reason = lastError?.message ?? (err instanceof Error ? err.message : String(err));
    throw new RedisUnavailableError(`Cannot reach Redis at ${redactRedisUrl(url)} (REDIS_URL): ${reason}`);
  }
  return client;
}
