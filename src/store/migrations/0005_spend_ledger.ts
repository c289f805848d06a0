// Migration 0005: the append-only spend ledger and its running totals (existing sessions' spend carried in), and the key that queued each job.
import { sql, type Kysely, type Migration } from 'kysely';
import type { DialectName } from '../connect.js';
import { atomically } from './atomic.js';

export function spendLedger(dialect: DialectName): Migration {
  return {
    up: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema
          .createTable('spend_ledger')
          .addColumn('id', dialect === 'sqlite' ? 'integer' : 'bigint', (c) =>
            dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey().generatedByDefaultAsIdentity(),
          )
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('tenant', 'text', (c) => c.notNull())
          // The key that acted (null: open mode, or spend carried over from before the ledger without a known key).
          .addColumn('key_id', 'text')
          // No foreign key: the rows outlive their session.
          .addColumn('session_id', 'text')
          .addColumn('session_name', 'text')
          .addColumn('turn_id', 'text')
          .addColumn('cost_usd', 'double precision', (c) => c.notNull())
          // `turn` (a settled turn) or `carried` (a session's total from before the ledger).
          .addColumn('source', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('spend_ledger_tenant_idx').on('spend_ledger').columns(['tenant', 'id']).execute();
        await db.schema.createIndex('spend_ledger_key_idx').on('spend_ledger').columns(['key_id', 'id']).execute();

        // The sum of the ledger per account (`tenant:<t>`, `key:<id>`), kept in the same transaction as each row.
        await db.schema
          .createTable('spend_totals')
          .addColumn('account', 'text', (c) => c.primaryKey())
          .addColumn('spent_usd', 'double precision', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();

        await db.schema.alterTable('jobs').addColumn('key_id', 'text').execute();

        // What sessions spent before the ledger existed stays spent: one carried row per session.
        const now = new Date().toISOString();
        await sql`
          insert into spend_ledger (created_at, tenant, key_id, session_id, session_name, turn_id, cost_usd, source)
          select ${now}, s.owner,
                 (select k.id from api_keys k where k.tenant = s.owner order by k.created_at desc limit 1),
                 s.id, s.name, null, s.cost_usd, 'carried'
          from sessions s where s.cost_usd > 0 order by s.created_at`.execute(db);
        await sql`
          insert into spend_totals (account, spent_usd, updated_at)
          select 'tenant:' || tenant, sum(cost_usd), ${now} from spend_ledger group by tenant`.execute(db);
        await sql`
          insert into spend_totals (account, spent_usd, updated_at)
          select 'key:' || key_id, sum(cost_usd), ${now} from spend_ledger where key_id is not null group by key_id`.execute(
          db,
        );
      }),
    down: (migrationDb: Kysely<any>) =>
      atomically(migrationDb, dialect, async (db) => {
        await db.schema.alterTable('jobs').dropColumn('key_id').execute();
        await db.schema.dropTable('spend_totals').execute();
        await db.schema.dropTable('spend_ledger').execute();
      }),
  };
}
