// Reads and writes compat_conversations: which session a stateless client's conversation continues on.
import type { Kysely } from 'kysely';
import { nowIso } from './json-columns.js';
import type { ConversationHeadRow, Database } from './schema.js';

/** Whose conversations may match each other: one key of one tenant, one end user of that key. */
export interface ConversationScope {
  tenant: string;
  key_id: string;
  end_user: string;
}

export class ConversationsRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** The session whose conversation head is `digest` in this scope (the most recent, if several share it). */
  async findHead(scope: ConversationScope, digest: string): Promise<ConversationHeadRow | undefined> {
    return this.#db
      .selectFrom('compat_conversations')
      .selectAll()
      .where('tenant', '=', scope.tenant)
      .where('key_id', '=', scope.key_id)
      .where('end_user', '=', scope.end_user)
      .where('digest', '=', digest)
      .orderBy('updated_at', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /** Takes the head away if it is still `digest`: true for the one caller that may continue the session from it. */
  async claim(sessionId: string, digest: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('compat_conversations')
      .where('session_id', '=', sessionId)
      .where('digest', '=', digest)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Sets the session's head (one per session); `updated_at` now unless given (a head put back as it was). */
  async setHead(
    head: ConversationScope & { session_id: string; digest: string; implicit?: number; updated_at?: string },
  ): Promise<void> {
    const updated_at = head.updated_at ?? nowIso();
    const implicit = head.implicit ?? 0;
    await this.#db
      .insertInto('compat_conversations')
      .values({ ...head, implicit, updated_at })
      .onConflict((oc) =>
        oc.column('session_id').doUpdateSet({
          tenant: head.tenant,
          key_id: head.key_id,
          end_user: head.end_user,
          digest: head.digest,
          implicit,
          updated_at,
        }),
      )
      .execute();
  }

  /**
   * Heads of sessions a compatible endpoint opened by itself, least recently answered first: all of them idle since
   * before `before`, or (with `tenant`) that tenant's, however recent.
   */
  async implicitHeads(filter: { before?: string; tenant?: string }, limit: number): Promise<ConversationHeadRow[]> {
    let q = this.#db.selectFrom('compat_conversations').selectAll().where('implicit', '=', 1);
    if (filter.before !== undefined) q = q.where('updated_at', '<', filter.before);
    if (filter.tenant !== undefined) q = q.where('tenant', '=', filter.tenant);
    return q.orderBy('updated_at', 'asc').limit(limit).execute();
  }
}
