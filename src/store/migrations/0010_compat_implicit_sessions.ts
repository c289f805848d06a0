// Migration 0010: marks the conversations whose session a compatible endpoint opened by itself, so it may recycle them.
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

export function compatImplicitSessions(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        // 1: the session was opened for this conversation (no X-Session-Name); 0: the client named it.
        await db.schema
          .alterTable('compat_conversations')
          .addColumn('implicit', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema
          .createIndex('compat_conversations_implicit_idx')
          .on('compat_conversations')
          .columns(['implicit', 'updated_at'])
          .execute();
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema.dropIndex('compat_conversations_implicit_idx').execute();
        await db.schema.alterTable('compat_conversations').dropColumn('implicit').execute();
      }),
  };
}
