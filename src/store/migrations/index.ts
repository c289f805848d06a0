// Schema migrations kept in code, one file each, portable across SQLite and PostgreSQL, and the runner that applies them.
import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { DialectName } from '../connect.js';
import { MigrationError } from '../errors.js';
import { refuseSeedDatabase } from '../seed-database.js';
import { sessionsMessages } from './0001_sessions_messages.js';
import { jobsWebhooksIdempotency } from './0002_jobs_webhooks_idempotency.js';
import { apiKeysAudit } from './0003_api_keys_audit.js';
import { workspaceAnchors } from './0004_workspace_anchors.js';
import { spendLedger } from './0005_spend_ledger.js';
import { compatConversations } from './0007_compat_conversations.js';
import { approvals } from './0008_approvals.js';
import { sessionUserLabel } from './0009_session_user_label.js';
import { compatImplicitSessions } from './0010_compat_implicit_sessions.js';
import { sessionLeaseEpoch } from './0011_session_lease_epoch.js';

/** Migrations by name; names sort in the order they apply. Never edit one that has shipped: add the next file. */
export function buildMigrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_sessions_messages': sessionsMessages(dialect),
    '0002_jobs_webhooks_idempotency': jobsWebhooksIdempotency(dialect),
    '0003_api_keys_audit': apiKeysAudit(dialect),
    '0004_workspace_anchors': workspaceAnchors(dialect),
    '0005_spend_ledger': spendLedger(dialect),
    '0007_compat_conversations': compatConversations(dialect),
    '0008_approvals': approvals(dialect),
    '0009_session_user_label': sessionUserLabel(dialect),
    '0010_compat_implicit_sessions': compatImplicitSessions(dialect),
    '0011_session_lease_epoch': sessionLeaseEpoch(dialect),
  };
}

/** Applies every pending migration; returns the names it applied. Throws MigrationError naming the one that failed. */
export async function runMigrations(db: Kysely<any>, dialect: DialectName): Promise<string[]> {
  await refuseSeedDatabase(db);
  const migrations = buildMigrations(dialect);
  const provider: MigrationProvider = { getMigrations: async () => migrations };
  const migrator = new Migrator({ db, provider });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName;
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever a migration threw, as text
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(
      failed
        ? `Database migration ${failed} failed (${dialect}): ${reason}`
        : `Database migrations could not run (${dialect}): ${reason}`,
      failed,
      { cause: error },
    );
  }
  return results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
