// Migration 0011: a session's lease epoch (several nodes), which the writes its owner makes are conditioned on.
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

export function sessionLeaseEpoch(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        // 0: no node of a cluster ever claimed the session (always so on a single node).
        await db.schema
          .alterTable('sessions')
          .addColumn('lease_epoch', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema.alterTable('sessions').dropColumn('lease_epoch').execute();
      }),
  };
}
