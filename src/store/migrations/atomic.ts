// Runs a migration's statements atomically on both dialects.
import type { Kysely } from 'kysely';
import type { DialectName } from '../connect.js';

/**
 * Kysely already wraps PostgreSQL migrations in a transaction but not SQLite ones, so SQLite gets its own here
 * (a migration that must toggle PRAGMA foreign_keys cannot use this).
 */
export function atomically(
  db: Kysely<any>,
  dialect: DialectName,
  statements: (db: Kysely<any>) => Promise<void>,
): Promise<void> {
  return dialect === 'sqlite' ? db.transaction().execute(statements) : statements(db);
}
