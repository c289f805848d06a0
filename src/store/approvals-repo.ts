// Reads and writes the approvals table (tool calls and questions waiting for a person) and the permission_rules table.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { nowIso, toJsonText } from './json-columns.js';
import type {
  ApprovalRow,
  ApprovalStatus,
  ApprovalsTable,
  Database,
  JsonObject,
  PermissionRuleRow,
  PermissionRulesTable,
} from './schema.js';

type StoredApproval = ApprovalsTable;
export type NewApproval = Omit<
  ApprovalsTable,
  'input' | 'status' | 'response' | 'decided_by' | 'decided_at' | 'reason'
> & {
  input: unknown;
};

function toApprovalRow(stored: StoredApproval): ApprovalRow {
  return {
    ...stored,
    input: JSON.parse(stored.input) as unknown,
    response: stored.response === null ? null : (JSON.parse(stored.response) as JsonObject),
  };
}

export class ApprovalsRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(row: NewApproval): Promise<ApprovalRow> {
    const stored: StoredApproval = {
      ...row,
      input: JSON.stringify(row.input ?? null),
      status: 'pending',
      reason: null,
      response: null,
      decided_by: null,
      decided_at: null,
    };
    await this.#db.insertInto('approvals').values(stored).execute();
    return toApprovalRow(stored);
  }

  async findById(id: string): Promise<ApprovalRow | undefined> {
    const row = await this.#db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toApprovalRow(row);
  }

  /** Pending ones, oldest first: of one tenant (null = every tenant), optionally of one session. */
  async pending(tenant: string | null, sessionId?: string): Promise<ApprovalRow[]> {
    let q = this.#db.selectFrom('approvals').selectAll().where('status', '=', 'pending');
    if (tenant !== null) q = q.where('tenant', '=', tenant);
    if (sessionId !== undefined) q = q.where('session_id', '=', sessionId);
    const rows = await q.orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
    return rows.map(toApprovalRow);
  }

  /** pending → `status`, once; undefined when it was no longer pending. */
  async settle(
    id: string,
    status: Exclude<ApprovalStatus, 'pending'>,
    facts: { reason?: string; response?: JsonObject; decidedBy?: string | null },
  ): Promise<ApprovalRow | undefined> {
    const stored = await this.#db
      .updateTable('approvals')
      .set({
        status,
        reason: facts.reason ?? null,
        response: toJsonText(facts.response),
        decided_by: facts.decidedBy ?? null,
        decided_at: nowIso(),
      })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
    return stored && toApprovalRow(stored);
  }

  /** Every pending one (of one session, if given) → expired with `reason` (a server that stopped held them); returns them. */
  async expireAllPending(reason: string, sessionId?: string): Promise<ApprovalRow[]> {
    let q = this.#db
      .updateTable('approvals')
      .set({ status: 'expired', reason, decided_at: nowIso() })
      .where('status', '=', 'pending');
    if (sessionId !== undefined) q = q.where('session_id', '=', sessionId);
    const rows = await q.returningAll().execute();
    return rows.map(toApprovalRow);
  }

  /** The rules of a tenant's key (sessionId null) or of a session, in the order they were added. */
  async rules(tenant: string, sessionId: string | null): Promise<PermissionRuleRow[]> {
    let q = this.#db.selectFrom('permission_rules').selectAll().where('tenant', '=', tenant);
    q = sessionId === null ? q.where('session_id', 'is', null) : q.where('session_id', '=', sessionId);
    return q.orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
  }

  /** Replaces the `set` rules of a key or session (remembered answers stay). */
  async replaceRules(
    tenant: string,
    sessionId: string | null,
    rules: ReadonlyArray<Pick<PermissionRulesTable, 'outcome' | 'rule'>>,
    createdBy: string | null,
  ): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      let del = trx.deleteFrom('permission_rules').where('tenant', '=', tenant).where('source', '=', 'set');
      del = sessionId === null ? del.where('session_id', 'is', null) : del.where('session_id', '=', sessionId);
      await del.execute();
      if (rules.length > 0) {
        const at = nowIso();
        await trx
          .insertInto('permission_rules')
          .values(
            rules.map((r, i) => ({
              // Same created_at for the batch: the id keeps the given order.
              id: `${String(i).padStart(4, '0')}-${randomUUID()}`,
              tenant,
              session_id: sessionId,
              outcome: r.outcome,
              rule: r.rule,
              source: 'set',
              created_by: createdBy,
              created_at: at,
            })),
          )
          .execute();
      }
    });
  }

  /** Adds one rule (a remembered answer); an identical one already there is kept instead. */
  async addRule(row: Omit<PermissionRulesTable, 'id' | 'created_at'>): Promise<void> {
    let q = this.#db
      .selectFrom('permission_rules')
      .select('id')
      .where('tenant', '=', row.tenant)
      .where('outcome', '=', row.outcome)
      .where('rule', '=', row.rule)
      .where('source', '=', row.source);
    q = row.session_id === null ? q.where('session_id', 'is', null) : q.where('session_id', '=', row.session_id);
    if (await q.executeTakeFirst()) return;
    await this.#db
      .insertInto('permission_rules')
      .values({ ...row, id: randomUUID(), created_at: nowIso() })
      .execute();
  }
}
