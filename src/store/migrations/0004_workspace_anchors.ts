// Migration 0004: the (device, inode) of each session's workspace and working directory, recorded when they were made or first opened.
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

/** Anchor columns, as decimal text (an inode may not fit a double); NULL until recorded (rows made before this migration). */
const COLUMNS = ['workspace_dev', 'workspace_ino', 'working_dir_dev', 'working_dir_ino'] as const;

export function workspaceAnchors(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        for (const column of COLUMNS) await db.schema.alterTable('sessions').addColumn(column, 'text').execute();
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        for (const column of COLUMNS) await db.schema.alterTable('sessions').dropColumn(column).execute();
      }),
  };
}
