// Revocations reaching every instance: a cheap count of revoked keys read every few hundred ms, and with Redis a pub/sub nudge that makes every instance look at once.
import type { Redis } from 'ioredis';
import type { ApiKeysRepo } from '../store/api-keys-repo.js';

/** A key that was revoked: what the listeners need to drop it (cached lookups, open streams, queued jobs). */
export interface RevokedKey {
  id: string;
  tenant: string;
  hash: string;
}

export type RevocationListener = (key: RevokedKey) => void;

/** The Redis channel revokes are announced on. */
export function revocationChannel(keyPrefix: string): string {
  return `${keyPrefix}keys:revoked`;
}

export interface RevocationWatchOptions {
  /** How often the database is asked (KEY_REVOCATION_CHECK_SECONDS), ms. */
  intervalMs: number;
  /** REDIS_URL's connection: revokes are published on it, and a duplicate subscribes. */
  redis?: Redis;
  keyPrefix?: string;
  onError?: (err: unknown) => void;
}

export class RevocationWatch {
  readonly #repo: Pick<ApiKeysRepo, 'countRevoked' | 'revokedKeys'>;
  readonly #options: RevocationWatchOptions;
  readonly #listeners = new Set<RevocationListener>();
  readonly #known = new Set<string>();
  #count = -1;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #again = false;
  #subscriber: Redis | undefined;

  constructor(repo: Pick<ApiKeysRepo, 'countRevoked' | 'revokedKeys'>, options: RevocationWatchOptions) {
    this.#repo = repo;
    this.#options = options;
  }

  get #channel(): string {
    return revocationChannel(this.#options.keyPrefix ?? '');
  }

  #onError(err: unknown): void {
    this.#options.onError?.(err);
  }

  /** Learns the keys revoked so far (without announcing them), then looks every intervalMs and listens on Redis. */
  async start(): Promise<void> {
    await this.#sync(false);
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs);
    this.#timer.unref();
    const redis = this.#options.redis;
    if (redis) {
      const subscriber = redis.duplicate();
      subscriber.on('error', (err: Error) => this.#onError(err));
      subscriber.on('message', () => void this.check());
      try {
        await subscriber.connect();
        await subscriber.subscribe(this.#channel);
        this.#subscriber = subscriber;
      } catch (err) {
        // The database look still runs: revokes arrive within intervalMs instead of at once.
        this.#onError(err);
        subscriber.disconnect();
      }
    }
  }

  /** Calls `listener` for each key revoked from now on, here or on another instance; returns the unsubscribe. */
  onRevoked(listener: RevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Looks for keys revoked since the last look; a call during a look makes it look once more. */
  check(): Promise<void> {
    if (this.#checking) {
      this.#again = true;
      return this.#checking;
    }
    const run = async () => {
      do {
        this.#again = false;
        await this.#sync(true);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by another call while #sync awaited
      } while (this.#again);
    };
    this.#checking = run()
      .catch((err: unknown) => this.#onError(err))
      .finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  /** After a revoke by this process: tell the listeners now and nudge the other instances (Redis). */
  async announce(): Promise<void> {
    await this.check();
    await this.#options.redis?.publish(this.#channel, '1').catch((err: unknown) => this.#onError(err));
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  async #sync(announce: boolean): Promise<void> {
    const count = await this.#repo.countRevoked();
    if (count === this.#count) return;
    const rows = await this.#repo.revokedKeys();
    this.#count = rows.length;
    for (const row of rows) {
      if (this.#known.has(row.id)) continue;
      this.#known.add(row.id);
      if (!announce) continue;
      for (const listener of this.#listeners) {
        try {
          listener({ id: row.id, tenant: row.tenant, hash: row.hash });
        } catch (err) {
          this.#onError(err);
        }
      }
    }
  }
}
