// Reads and writes the api_keys table: keys created through the API or CLI, found by the hash of their secret.
import type { Kysely } from 'kysely';
import { mapConstraintError } from './errors.js';
import { checkPage, nowIso } from './json-columns.js';
import type { ApiKeyRow, Database, NewApiKey, Page, PageRequest } from './schema.js';

export class ApiKeysRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Inserts a key; DuplicateError if its id or hash is taken. */
  async create(key: NewApiKey): Promise<ApiKeyRow> {
    try {
      return await this.#db
        .insertInto('api_keys')
        .values({ ...key, created_at: key.created_at ?? nowIso() })
        .returningAll()
        .executeTakeFirstOrThrow();
    } catch (error) {
      throw mapConstraintError(error, { duplicate: 'An API key with this id or secret already exists' });
    }
  }

  findById(id: string): Promise<ApiKeyRow | undefined> {
    return this.#db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The key whose secret hashes to `hash` (hex SHA-256), revoked or not. */
  findByHash(hash: string): Promise<ApiKeyRow | undefined> {
    return this.#db.selectFrom('api_keys').selectAll().where('hash', '=', hash).executeTakeFirst();
  }

  /** The key of a tenant (each stored key is its own tenant); the newest if several. */
  findByTenant(tenant: string): Promise<ApiKeyRow | undefined> {
    return this.#db
      .selectFrom('api_keys')
      .selectAll()
      .where('tenant', '=', tenant)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
  }

  /** One page of keys, oldest first, with the total count. */
  async list(page: PageRequest): Promise<Page<ApiKeyRow>> {
    checkPage(page);
    const query = this.#db.selectFrom('api_keys');
    const [items, count] = await Promise.all([
      query
        .selectAll()
        .orderBy('created_at', 'asc')
        .orderBy('id', 'asc')
        .limit(page.limit)
        .offset(page.offset)
        .execute(),
      query.select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow(),
    ]);
    return { items, total: Number(count.total) };
  }

  /** Keys that still work (not revoked). */
  countActive(): Promise<number> {
    return this.#count('is');
  }

  /** How many keys have been revoked so far (a revoke only ever adds one: rows are never deleted or un-revoked). */
  countRevoked(): Promise<number> {
    return this.#count('is not');
  }

  async #count(revoked: 'is' | 'is not'): Promise<number> {
    const count = await this.#db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll().as('total'))
      .where('revoked_at', revoked, null)
      .executeTakeFirstOrThrow();
    return Number(count.total);
  }

  /** Every revoked key: its id, tenant and hash. */
  revokedKeys(): Promise<Array<Pick<ApiKeyRow, 'id' | 'tenant' | 'hash'>>> {
    return this.#db
      .selectFrom('api_keys')
      .select(['id', 'tenant', 'hash'])
      .where('revoked_at', 'is not', null)
      .execute();
  }

  /** Marks a key revoked (keeps the row for the audit trail); the updated row, or undefined if there is no such key. */
  async revoke(id: string, at = nowIso()): Promise<ApiKeyRow | undefined> {
    await this.#db
      .updateTable('api_keys')
      .set({ revoked_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .execute();
    return this.findById(id);
  }

  async touch(id: string, at = nowIso()): Promise<void> {
    await this.#db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
  }
}
