// Migration 0007: the head of each conversation a compatible endpoint (OpenAI / Anthropic format) answered on a session.
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

export function compatConversations(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema
          .createTable('compat_conversations')
          // One head per session: the digest of the messages up to the last answer it gave.
          .addColumn('session_id', 'text', (c) => c.primaryKey().references('sessions.id').onDelete('cascade'))
          .addColumn('tenant', 'text', (c) => c.notNull())
          // The key that asked ('' in open mode) and the client's end user ('' when none): matching never crosses them.
          .addColumn('key_id', 'text', (c) => c.notNull())
          .addColumn('end_user', 'text', (c) => c.notNull())
          // SHA-256 (hex) over the conversation's messages, chained message by message.
          .addColumn('digest', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('compat_conversations_scope_digest_idx')
          .on('compat_conversations')
          .columns(['tenant', 'key_id', 'end_user', 'digest'])
          .execute();
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema.dropTable('compat_conversations').execute();
      }),
  };
}
