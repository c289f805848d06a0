// Reads and writes the idempotency_keys table: a tenant's Idempotency-Key, the request it named and the response it got.
import type { Kysely, Selectable } from 'kysely';
import { DuplicateError, mapConstraintError } from './errors.js';
import { nowIso } from './json-columns.js';
import type { Database, IdempotencyKeysTable } from './schema.js';

export type IdempotencyRow = Omit<Selectable<IdempotencyKeysTable>, 'response_headers'> & {
  response_headers: Record<string, string> | null;
};

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Claim {
  tenant: string;
  key: string;
  fingerprint: string;
  /** Until when this claim counts as alive (after that, a repeat may take it over). */
  lockedUntil: string;
  expiresAt: string;
}

function toRow(stored: Selectable<IdempotencyKeysTable>): IdempotencyRow {
  return {
    ...stored,
    response_headers:
      stored.response_headers === null ? null : (JSON.parse(stored.response_headers) as Record<string, string>),
  };
}

export class IdempotencyRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The live (not expired) row of a key, if any; an expired one is deleted on the way. */
  async find(tenant: string, key: string, now = nowIso()): Promise<IdempotencyRow | undefined> {
    const stored = await this.#db
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('tenant', '=', tenant)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!stored) return undefined;
    if (stored.expires_at <= now) {
      await this.#db
        .deleteFrom('idempotency_keys')
        .where('tenant', '=', tenant)
        .where('key', '=', key)
        .where('expires_at', '<=', now)
        .execute();
      return undefined;
    }
    return toRow(stored);
  }

  /** Records an in-flight claim; false if the key is already taken (by a live row). */
  async claim(claim: Claim): Promise<boolean> {
    try {
      await this.#db
        .insertInto('idempotency_keys')
        .values({
          tenant: claim.tenant,
          key: claim.key,
          fingerprint: claim.fingerprint,
          status: 'in_flight',
          response_status: null,
          response_headers: null,
          response_body: null,
          locked_until: claim.lockedUntil,
          created_at: nowIso(),
          expires_at: claim.expiresAt,
        })
        .execute();
      return true;
    } catch (error) {
      if (mapConstraintError(error, { duplicate: 'taken' }) instanceof DuplicateError) return false;
      throw error;
    }
  }

  /** Deletes an in-flight claim whose lock ran out (its process died), so it can be claimed again. */
  async dropAbandoned(tenant: string, key: string, now = nowIso()): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('idempotency_keys')
      .where('tenant', '=', tenant)
      .where('key', '=', key)
      .where('status', '=', 'in_flight')
      .where('locked_until', '<=', now)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Keeps an in-flight claim alive while its request still runs. */
  async extendLock(tenant: string, key: string, lockedUntil: string): Promise<void> {
    await this.#db
      .updateTable('idempotency_keys')
      .set({ locked_until: lockedUntil })
      .where('tenant', '=', tenant)
      .where('key', '=', key)
      .where('status', '=', 'in_flight')
      .execute();
  }

  /** Stores the response of an in-flight claim. */
  async complete(tenant: string, key: string, response: StoredResponse): Promise<void> {
    await this.#db
      .updateTable('idempotency_keys')
      .set({
        status: 'completed',
        response_status: response.status,
        response_headers: JSON.stringify(response.headers),
        response_body: response.body,
        locked_until: null,
      })
      .where('tenant', '=', tenant)
      .where('key', '=', key)
      .where('status', '=', 'in_flight')
      .execute();
  }

  /** Forgets an in-flight claim (its request ended with nothing worth replaying). */
  async release(tenant: string, key: string): Promise<void> {
    await this.#db
      .deleteFrom('idempotency_keys')
      .where('tenant', '=', tenant)
      .where('key', '=', key)
      .where('status', '=', 'in_flight')
      .execute();
  }

  /** Deletes every expired row; returns how many. */
  async deleteExpired(now = nowIso()): Promise<number> {
    const result = await this.#db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
