// Recognises the Python seed's own database (its `sessions` table), so a DATABASE_URL kept from the seed's .env is refused with a clear message.
import type { Kysely } from 'kysely';
import { MigrationError } from './errors.js';

/** Columns of the seed's `sessions` table that ours never has. */
const SEED_COLUMNS = ['user_id', 'total_cost', 'total_turns'];

/** Throws MigrationError when the database holds the Python seed's tables (this server neither uses nor imports them). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- like a migration, it reads tables outside today's schema
export async function refuseSeedDatabase(db: Kysely<any>): Promise<void> {
  const tables = await db.introspection.getTables();
  const sessions = tables.find((t) => t.name === 'sessions');
  const columns = new Set(sessions?.columns.map((c) => c.name));
  if (!sessions || !SEED_COLUMNS.every((c) => columns.has(c))) return;
  throw new MigrationError(
    "DATABASE_URL points at a database of the Python claude-code-api (its sessions table has user_id, total_cost and total_turns). This server keeps its own tables and does not import the seed's: point DATABASE_URL at a new database (docs/migrating.md).",
    undefined,
  );
}
