// Migration 0002: async jobs, their webhook deliveries, and stored Idempotency-Key responses.
import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

export function jobsWebhooksIdempotency(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema
          .createTable('jobs')
          // Time-ordered ids (UUIDv7 layout): ordering by id is ordering by creation.
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
          .addColumn('session_name', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('message', 'text', (c) => c.notNull())
          .addColumn('options', 'text', (c) => c.notNull().defaultTo('{}'))
          .addColumn('webhook_url', 'text')
          .addColumn('metadata', 'text')
          .addColumn('turn_id', 'text')
          .addColumn('result', 'text')
          .addColumn('error', 'text')
          // The turn's numbered events (JSON array), kept once the job has finished.
          .addColumn('events', 'text')
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('restarts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('run_after', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text')
          .addColumn('finished_at', 'text')
          .execute();
        await db.schema.createIndex('jobs_session_id_idx').on('jobs').columns(['session_id', 'id']).execute();
        await db.schema.createIndex('jobs_status_idx').on('jobs').columns(['status', 'id']).execute();

        await db.schema
          .createTable('webhook_deliveries')
          // The Standard Webhooks message id (`webhook-id`), the same on every attempt.
          .addColumn('id', 'text', (c) => c.primaryKey())
          // No foreign key: a delivery outlives its job (a deleted session's jobs still report how they ended).
          .addColumn('job_id', 'text', (c) => c.notNull())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('event', 'text', (c) => c.notNull())
          .addColumn('url', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', 'text')
          // JSON array of { attempt, at, status_code, error, duration_ms }.
          .addColumn('log', 'text', (c) => c.notNull().defaultTo('[]'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('webhook_deliveries_due_idx')
          .on('webhook_deliveries')
          .columns(['status', 'next_attempt_at'])
          .execute();
        await db.schema
          .createIndex('webhook_deliveries_job_id_idx')
          .on('webhook_deliveries')
          .columns(['job_id', 'created_at'])
          .execute();

        await db.schema
          .createTable('idempotency_keys')
          .addColumn('tenant', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          // SHA-256 of method, path and body: the same key with another request is refused.
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('response_status', 'integer')
          .addColumn('response_headers', 'text')
          .addColumn('response_body', 'text')
          // An in-flight claim older than this was abandoned (its process died) and may be taken over.
          .addColumn('locked_until', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('idempotency_keys_pk', ['tenant', 'key'])
          .execute();
        await db.schema
          .createIndex('idempotency_keys_expires_at_idx')
          .on('idempotency_keys')
          .column('expires_at')
          .execute();
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema.dropTable('idempotency_keys').execute();
        await db.schema.dropTable('webhook_deliveries').execute();
        await db.schema.dropTable('jobs').execute();
      }),
  };
}
