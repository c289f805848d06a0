// Migration 0009: a session's user label (the Python seed's `user_id`), a name inside the owner's tenant that lists filter on.
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

export function sessionUserLabel(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        // Not named user_id: that column (with total_cost and total_turns) is how the seed's own database is recognised.
        await db.schema.alterTable('sessions').addColumn('user_label', 'text').execute();
        await db.schema
          .createIndex('sessions_owner_user_label_idx')
          .on('sessions')
          .columns(['owner', 'user_label'])
          .execute();
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema.dropIndex('sessions_owner_user_label_idx').execute();
        await db.schema.alterTable('sessions').dropColumn('user_label').execute();
      }),
  };
}
