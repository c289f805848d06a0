// Reads and writes the audit_log table: append-only rows of mutating requests and of tool calls / denials in turns.
import type { Kysely } from 'kysely';
import { checkPage, nowIso, toJsonText } from './json-columns.js';
import type { AuditRow, Database, JsonObject, NewAuditRow, Page, PageRequest } from './schema.js';

/** Filters of an audit listing; every one given must match. Times are ISO-8601, `from` inclusive, `to` exclusive. */
export interface AuditFilter {
  /** null = every tenant (admin). */
  tenant: string | null;
  action?: string;
  session?: string;
  keyId?: string;
  from?: string;
  to?: string;
}

export class AuditRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(row: NewAuditRow): Promise<void> {
    await this.#db
      .insertInto('audit_log')
      .values({ ...row, detail: toJsonText(row.detail), created_at: row.created_at ?? nowIso() })
      .execute();
  }

  async insertMany(rows: NewAuditRow[]): Promise<void> {
    if (rows.length === 0) return;
    const at = nowIso();
    await this.#db
      .insertInto('audit_log')
      .values(rows.map((row) => ({ ...row, detail: toJsonText(row.detail), created_at: row.created_at ?? at })))
      .execute();
  }

  /** One page of matching rows, newest first, with the total count. */
  async list(filter: AuditFilter, page: PageRequest): Promise<Page<AuditRow>> {
    checkPage(page);
    let query = this.#db.selectFrom('audit_log');
    if (filter.tenant !== null) query = query.where('tenant', '=', filter.tenant);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.session !== undefined) query = query.where('session', '=', filter.session);
    if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId);
    if (filter.from !== undefined) query = query.where('created_at', '>=', filter.from);
    if (filter.to !== undefined) query = query.where('created_at', '<', filter.to);
    const [rows, count] = await Promise.all([
      query.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
      query.select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow(),
    ]);
    return {
      items: rows.map((r) => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as JsonObject) })),
      total: Number(count.total),
    };
  }
}
