// Migration 0001: sessions and their messages (history).
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

export function sessionsMessages(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema
          .createTable('sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('workspace', 'text', (c) => c.notNull())
          .addColumn('working_dir', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('claude_session_id', 'text')
          .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('template', 'text')
          .addColumn('cost_usd', 'double precision', (c) => c.notNull().defaultTo(0))
          .addColumn('turns', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('input_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('output_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('cache_read_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('cache_creation_tokens', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('claude_cost_total', 'double precision', (c) => c.notNull().defaultTo(0))
          .addColumn('last_event_id', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('last_active_at', 'text')
          .addUniqueConstraint('sessions_owner_name_unique', ['owner', 'name'])
          .execute();
        await db.schema
          .createIndex('sessions_owner_created_at_idx')
          .on('sessions')
          .columns(['owner', 'created_at'])
          .execute();

        await db.schema
          .createTable('messages')
          .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigint', (c) =>
            dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
          )
          .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('turn_id', 'text', (c) => c.notNull())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull().defaultTo('ok'))
          .addColumn('tools_used', 'text')
          .addColumn('cost_usd', 'double precision')
          .addColumn('duration_ms', 'integer')
          .addColumn('num_turns', 'integer')
          .addColumn('usage', 'text')
          .addColumn('model', 'text')
          .addColumn('error', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('messages_session_id_id_idx')
          .on('messages')
          .columns(['session_id', 'id'])
          .execute();
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema.dropTable('messages').execute();
        await db.schema.dropTable('sessions').execute();
      }),
  };
}
