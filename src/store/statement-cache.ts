// Keeps better-sqlite3's prepared statements by SQL text, so a query Kysely runs again is not parsed and planned again.
import type BetterSqlite3 from 'better-sqlite3';

/** A database as the SQLite wrappers see it: statements that say whether they only read (better-sqlite3's). */
export interface StatementSource {
  prepare(sql: string): BetterSqlite3.Statement;
  close(): void;
}

/** How many distinct statements are kept; the least recently used one goes first. */
export const STATEMENT_CACHE_SIZE = 256;

/**
 * The database with `prepare` answered from a cache. A statement that is busy
 * (an iterator over its rows is still open) is not shared: that caller gets a statement of its own.
 */
export function withStatementCache(database: BetterSqlite3.Database, size = STATEMENT_CACHE_SIZE): StatementSource {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql: string): BetterSqlite3.Statement {
      const kept = cache.get(sql);
      if (kept && !kept.busy) {
        cache.delete(sql);
        cache.set(sql, kept);
        return kept;
      }
      const statement = database.prepare(sql);
      if (!kept) {
        cache.set(sql, statement);
        if (cache.size > size) cache.delete(cache.keys().next().value!);
      }
      return statement;
    },
    close() {
      cache.clear();
      database.close();
    },
  };
}
