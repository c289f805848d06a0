// The storage layer's entry point: createStore(DATABASE_URL) gives the repositories over SQLite or PostgreSQL.
import { Kysely, sql } from 'kysely';
import { createDialect, parseDatabaseUrl, type DialectName } from './connect.js';
import { FencedWrites } from './fenced-writes.js';
import { ReadCache } from './read-cache.js';
import { ApiKeysRepo } from './api-keys-repo.js';
import { ApprovalsRepo } from './approvals-repo.js';
import { AuditRepo } from './audit-repo.js';
import { ConversationsRepo } from './conversations-repo.js';
import { IdempotencyRepo } from './idempotency-repo.js';
import { JobsRepo } from './jobs-repo.js';
import { MessagesRepo } from './messages-repo.js';
import { runMigrations } from './migrations/index.js';
import type { Database } from './schema.js';
import { SessionsRepo } from './sessions-repo.js';
import { SpendRepo } from './spend-repo.js';
import { WebhookDeliveriesRepo } from './webhook-deliveries-repo.js';
import { UsageRepo } from './usage-repo.js';

export interface Store {
  db: Kysely<Database>;
  dialect: DialectName;
  /** Reads kept until the next change (SQLite); repositories go through it for the reads clients poll. */
  cache: ReadCache;
  sessions: SessionsRepo;
  messages: MessagesRepo;
  jobs: JobsRepo;
  deliveries: WebhookDeliveriesRepo;
  idempotency: IdempotencyRepo;
  apiKeys: ApiKeysRepo;
  audit: AuditRepo;
  /** Approvals and questions waiting for a person, and the permission rules of keys and sessions. */
  approvals: ApprovalsRepo;
  usage: UsageRepo;
  /** The append-only spend ledger and its running totals per tenant and key. */
  spend: SpendRepo;
  /** Heads of the conversations the compatible endpoints answered. */
  conversations: ConversationsRepo;
  /** The writes of a session's owner node, conditioned on the session's lease epoch (several nodes). */
  fenced: FencedWrites;
  /** Applies pending migrations and returns their names; throws MigrationError if one fails. */
  migrate(): Promise<string[]>;
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>;
  /** Closes the connection / pool; the store is unusable afterwards. */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** SQLite only: memory for read results kept until the next write (ReadCache), in bytes; 0 = off. */
  readCacheBytes?: number;
}

/** SQLITE_READ_CACHE_MB's default, in bytes. */
export const DEFAULT_READ_CACHE_BYTES = 16 * 1024 * 1024;

/** Opens the database named by a DATABASE_URL (see parseDatabaseUrl). Does not migrate: call migrate(). */
export async function createStore(databaseUrl: string, options: StoreOptions = {}): Promise<Store> {
  const target = parseDatabaseUrl(databaseUrl);
  const { dialect, changes } = createDialect(target);
  const db = new Kysely<Database>({ dialect });
  const cache = new ReadCache(changes, options.readCacheBytes ?? DEFAULT_READ_CACHE_BYTES);
  return {
    db,
    dialect: target.dialect,
    cache,
    sessions: new SessionsRepo(db, cache),
    messages: new MessagesRepo(db, cache),
    jobs: new JobsRepo(db),
    deliveries: new WebhookDeliveriesRepo(db),
    idempotency: new IdempotencyRepo(db),
    apiKeys: new ApiKeysRepo(db),
    audit: new AuditRepo(db),
    approvals: new ApprovalsRepo(db),
    usage: new UsageRepo(db, target.dialect),
    spend: new SpendRepo(db),
    conversations: new ConversationsRepo(db),
    fenced: new FencedWrites(db),
    migrate: () => runMigrations(db, target.dialect),
    async ping() {
      try {
        await sql`select 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    close: () => db.destroy(),
  };
}

export { parseDatabaseUrl, type DatabaseTarget, type DialectName } from './connect.js';
export { ReadCache, type ReadCacheStats } from './read-cache.js';
export { DuplicateError, MigrationError, MissingReferenceError } from './errors.js';
export { MessagesRepo } from './messages-repo.js';
export { JobsRepo, type JobRow, type NewJob, type JobOutcome } from './jobs-repo.js';
export {
  WebhookDeliveriesRepo,
  type DeliveryRow,
  type DeliveryAttempt,
  type NewDelivery,
} from './webhook-deliveries-repo.js';
export { IdempotencyRepo, type IdempotencyRow, type StoredResponse } from './idempotency-repo.js';
export { ApiKeysRepo } from './api-keys-repo.js';
export { AuditRepo, type AuditFilter } from './audit-repo.js';
export { ApprovalsRepo, type NewApproval } from './approvals-repo.js';
export { UsageRepo, type UsageGroup, type UsageGrouping, type UsageQuery, type UsageSums } from './usage-repo.js';
export { SessionsRepo, type TurnRecord } from './sessions-repo.js';
export { SpendRepo, keyAccount, tenantAccount, type SpendEntry } from './spend-repo.js';
export { ConversationsRepo, type ConversationScope } from './conversations-repo.js';
export { FencedWrites, type FencedOutcome, type LeaseEpoch } from './fenced-writes.js';
export type * from './schema.js';
