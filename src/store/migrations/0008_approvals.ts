// Migration 0008: permission rules of keys (by tenant) and sessions, remembered answers, and approvals/questions waiting for a person.
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

export function approvals(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema
          .createTable('permission_rules')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('tenant', 'text', (c) => c.notNull())
          // null: a rule of the tenant's key; else a rule of that session.
          .addColumn('session_id', 'text', (c) => c.references('sessions.id').onDelete('cascade'))
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('rule', 'text', (c) => c.notNull())
          // `set` (given by a client or admin) or `remembered` (a person's answer to an approval).
          .addColumn('source', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('permission_rules_owner_idx')
          .on('permission_rules')
          .columns(['tenant', 'session_id'])
          .execute();

        await db.schema
          .createTable('approvals')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('tenant', 'text', (c) => c.notNull())
          .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('session_name', 'text', (c) => c.notNull())
          .addColumn('turn_id', 'text', (c) => c.notNull())
          .addColumn('job_id', 'text')
          // `approval` (a tool call under an ask rule) or `question` (AskUserQuestion).
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('tool', 'text', (c) => c.notNull())
          .addColumn('tool_use_id', 'text')
          .addColumn('input', 'text', (c) => c.notNull())
          .addColumn('rule', 'text')
          // pending → allowed | denied | answered | expired
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('reason', 'text')
          .addColumn('response', 'text')
          .addColumn('decided_by', 'text')
          .addColumn('deadline', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('decided_at', 'text')
          .execute();
        await db.schema.createIndex('approvals_status_idx').on('approvals').columns(['status', 'tenant']).execute();
        await db.schema
          .createIndex('approvals_session_idx')
          .on('approvals')
          .columns(['session_id', 'status'])
          .execute();
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema.dropTable('approvals').execute();
        await db.schema.dropTable('permission_rules').execute();
      }),
  };
}
