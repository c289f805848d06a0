// The spend ledger: appends one cost row per settled turn and keeps each account's running total with it, in one transaction.
import { sql, type Kysely } from 'kysely';
import { nowIso } from './json-columns.js';
import type { Database, SpendRow, SpendSource } from './schema.js';

/** What one settled turn spent, and whose it is. */
export interface SpendEntry {
  tenant: string;
  /** The key that acted; null in open mode. */
  keyId: string | null;
  sessionId: string | null;
  sessionName: string | null;
  turnId: string | null;
  costUsd: number;
  source?: SpendSource;
  at?: string;
}

/** The accounts a running total is kept for. */
export const tenantAccount = (tenant: string) => `tenant:${tenant}`;
export const keyAccount = (keyId: string) => `key:${keyId}`;

export class SpendRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Appends the row and adds its cost to the tenant's and the key's totals, atomically. */
  async append(entry: SpendEntry): Promise<void> {
    const at = entry.at ?? nowIso();
    await this.#db.transaction().execute(async (tx) => {
      await tx
        .insertInto('spend_ledger')
        .values({
          created_at: at,
          tenant: entry.tenant,
          key_id: entry.keyId,
          session_id: entry.sessionId,
          session_name: entry.sessionName,
          turn_id: entry.turnId,
          cost_usd: entry.costUsd,
          source: entry.source ?? 'turn',
        })
        .execute();
      const accounts = [tenantAccount(entry.tenant), ...(entry.keyId === null ? [] : [keyAccount(entry.keyId)])];
      for (const account of accounts) {
        await tx
          .insertInto('spend_totals')
          .values({ account, spent_usd: entry.costUsd, updated_at: at })
          .onConflict((oc) =>
            oc.column('account').doUpdateSet({
              spent_usd: sql<number>`spend_totals.spent_usd + ${entry.costUsd}`,
              updated_at: at,
            }),
          )
          .execute();
      }
    });
  }

  /** The running total of an account (see tenantAccount / keyAccount), USD; 0 when it never spent. */
  async total(account: string): Promise<number> {
    const row = await this.#db
      .selectFrom('spend_totals')
      .select('spent_usd')
      .where('account', '=', account)
      .executeTakeFirst();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- the driver picks a double's JS type
    return Number(row?.spent_usd ?? 0);
  }

  /** The ledger's own sum for a tenant or a key (what the running totals must equal). */
  async sum(by: { tenant: string } | { keyId: string }): Promise<number> {
    let query = this.#db.selectFrom('spend_ledger');
    query = 'tenant' in by ? query.where('tenant', '=', by.tenant) : query.where('key_id', '=', by.keyId);
    const row = await query
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('cost_usd'), eb.lit(0)).as('spent'))
      .executeTakeFirstOrThrow();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- the driver picks a SUM's JS type
    return Number(row.spent);
  }

  /** A tenant's ledger rows, oldest first. */
  listByTenant(tenant: string): Promise<SpendRow[]> {
    return this.#db.selectFrom('spend_ledger').selectAll().where('tenant', '=', tenant).orderBy('id').execute();
  }
}
