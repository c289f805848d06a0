// Migration 0003: API keys created through the API or CLI (hashes only) and the audit trail.
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

export function apiKeysAudit(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('tenant', 'text', (c) => c.notNull())
          // SHA-256 of the secret, hex; the secret itself is never stored.
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          // The secret's first characters (`cca_ab12`), to tell keys apart in listings.
          .addColumn('prefix', 'text', (c) => c.notNull())
          .addColumn('rate_limit', 'integer')
          .addColumn('budget_usd', 'double precision')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('last_used_at', 'text')
          .addColumn('revoked_at', 'text')
          .execute();

        await db.schema
          .createTable('audit_log')
          .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigint', (c) =>
            dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
          )
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('key_id', 'text')
          .addColumn('tenant', 'text')
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('resource', 'text')
          .addColumn('session', 'text')
          .addColumn('status', 'integer')
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('request_id', 'text')
          .addColumn('ip', 'text')
          .addColumn('method', 'text')
          .addColumn('route', 'text')
          .addColumn('detail', 'text')
          .execute();
        await db.schema.createIndex('audit_log_tenant_id_idx').on('audit_log').columns(['tenant', 'id']).execute();
        await db.schema.createIndex('audit_log_created_at_idx').on('audit_log').columns(['created_at']).execute();
        await db.schema.createIndex('audit_log_key_id_idx').on('audit_log').columns(['key_id', 'id']).execute();
        await db.schema.createIndex('audit_log_session_idx').on('audit_log').columns(['session', 'id']).execute();
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema.dropTable('audit_log').execute();
        await db.schema.dropTable('api_keys').execute();
      }),
  };
}
