// Remembers what the SQLite store's reads answered until something writes to the database, here or in another process.
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import type { SourceStatement, StatementSource } from './statement-cache.js';

/** A number that changes whenever the database may have changed. */
export type ChangeCounter = () => number;

const PLAIN_READ = /^\s*(select|with)\b/i;

/**
 * How often, at most, the counter asks SQLite whether another process committed. `PRAGMA data_version` costs two
 * file-lock system calls: asked on every read, it was ~10% of a cached read route's time under load.
 */
export const OTHER_PROCESS_CHECK_MS = 1;

/**
 * The database Kysely's SQLite dialect uses, counting what may change data. Every statement of this connection but
 * a read-only SELECT/WITH (writes, transaction control, pragmas) moves the counter at once, when it has run or
 * failed. A commit by another connection or process (the `keys` CLI, a second server) moves it too, seen through
 * `PRAGMA data_version` when the counter is read, at most OTHER_PROCESS_CHECK_MS after the commit.
 */
export function trackChanges(
  source: StatementSource,
  clock: () => number = performance.now.bind(performance),
): { database: SqliteDatabase; changes: ChangeCounter } {
  const versionStatement = source.prepare('PRAGMA data_version');
  const dataVersion = () => (versionStatement.all([])[0] as { data_version: number }).data_version;
  let seen = dataVersion();
  let checkedAt = clock();
  let counter = 0;
  const changed = () => {
    counter++;
  };
  const counting = (statement: SourceStatement): SqliteStatement => ({
    reader: statement.reader,
    all(params) {
      try {
        return statement.all(params);
      } finally {
        changed();
      }
    },
    run(params) {
      try {
        return statement.run(params);
      } finally {
        changed();
      }
    },
    iterate(params) {
      changed();
      return statement.iterate(params);
    },
  });
  return {
    database: {
      prepare(sql) {
        const statement = source.prepare(sql);
        return statement.reader && statement.readonly && PLAIN_READ.test(sql) ? statement : counting(statement);
      },
      close: () => source.close(),
    },
    changes() {
      const at = clock();
      if (at - checkedAt >= OTHER_PROCESS_CHECK_MS) {
        checkedAt = at;
        const version = dataVersion();
        if (version !== seen) {
          seen = version;
          changed();
        }
      }
      return counter;
    },
  };
}

/** A result larger than this share of the budget is never kept. */
const LARGEST_SHARE = 8;

/** Freezes a value all the way down and estimates the bytes it holds. */
function freezeAndWeigh(value: unknown): number {
  if (typeof value === 'string') return 16 + value.length * 2;
  if (value === null || typeof value !== 'object') return 16;
  let bytes = 64;
  for (const item of Object.values(value)) bytes += freezeAndWeigh(item);
  Object.freeze(value);
  return bytes;
}

export interface ReadCacheStats {
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

/**
 * Read results by key, each valid while the change counter stands where it stood when the read began: a read served
 * from here answers what the query would (another process's commit: once the counter has seen it). A result is kept only if nothing changed while it
 * was read. Values it answers are frozen (callers copy, never mutate); the least recently used go first past `maxBytes`
 * (an estimate). Without a counter (PostgreSQL, where other instances write unseen) or a budget, nothing is kept.
 */
export class ReadCache {
  /** A cache that keeps nothing: reads go to the database every time. */
  static readonly none = new ReadCache(undefined, 0);

  readonly #changes: ChangeCounter | undefined;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, { value: unknown; bytes: number }>();
  #at = -1;
  #bytes = 0;
  #hits = 0;
  #misses = 0;

  constructor(changes: ChangeCounter | undefined, maxBytes: number) {
    this.#changes = maxBytes > 0 ? changes : undefined;
    this.#maxBytes = maxBytes;
  }

  /** The read named by `key` (its parts, e.g. `['sessions.page', owner, offset, limit]`): kept, or loaded now. */
  async read<T>(keyParts: readonly unknown[], load: () => Promise<T>): Promise<T> {
    if (!this.#changes) return load();
    const key = JSON.stringify(keyParts);
    const at = this.#changes();
    if (at !== this.#at) this.#clear(at);
    const hit = this.#entries.get(key);
    if (hit) {
      this.#hits++;
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.value as T;
    }
    this.#misses++;
    const value = await load();
    const bytes = freezeAndWeigh(value);
    if (this.#changes() !== at || bytes > this.#maxBytes / LARGEST_SHARE) return value;
    if (at !== this.#at) this.#clear(at);
    this.#keep(key, value, bytes);
    return value;
  }

  stats(): ReadCacheStats {
    return { hits: this.#hits, misses: this.#misses, entries: this.#entries.size, bytes: this.#bytes };
  }

  #clear(at: number): void {
    this.#entries.clear();
    this.#bytes = 0;
    this.#at = at;
  }

  #keep(key: string, value: unknown, bytes: number): void {
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }
}
