// Reads and writes the sessions table: one row per named Claude Code session of an owner, with running totals.
import { sql, type Kysely } from 'kysely';
import { mapConstraintError } from './errors.js';
import { ReadCache } from './read-cache.js';
import { checkPage, nowIso, toJsonText, toSessionRow } from './json-columns.js';
import type { Database, NewSession, Page, PageRequest, SessionPatch, SessionRow } from './schema.js';

/** What one finished turn adds to a session. */
export interface TurnRecord {
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheCreationTokens: number;
  /** The cumulative cost the CLI reported for the Claude session (replaces the stored value). */
  claudeCostTotal: number;
  /** The Claude session id the turn ran in; null keeps the stored one. */
  claudeSessionId: string | null;
  lastEventId: number;
  /** When the turn finished (ISO-8601); defaults to now. */
  at?: string;
}

/** The UPDATE that adds one finished turn to a session's totals and marks it active (on `db` or a transaction). */
export function addTurn(db: Kysely<Database>, id: string, turn: TurnRecord) {
  const at = turn.at ?? nowIso();
  return db
    .updateTable('sessions')
    .set((eb) => ({
      turns: eb('turns', '+', 1),
      cost_usd: eb('cost_usd', '+', turn.costUsd),
      input_tokens: eb('input_tokens', '+', turn.inputTokens),
      output_tokens: eb('output_tokens', '+', turn.outputTokens),
      cache_read_tokens: eb('cache_read_tokens', '+', turn.cacheReadTokens),
      cache_creation_tokens: eb('cache_creation_tokens', '+', turn.cacheCreationTokens),
      claude_cost_total: turn.claudeCostTotal,
      ...(turn.claudeSessionId !== null && { claude_session_id: turn.claudeSessionId }),
      last_event_id: turn.lastEventId,
      status: 'active' as const,
      last_active_at: at,
      updated_at: at,
    }))
    .where('id', '=', id);
}

export class SessionsRepo {
  readonly #db: Kysely<Database>;
  /** The reads clients poll go through it (its answers are frozen). */
  readonly #cache: ReadCache;

  constructor(db: Kysely<Database>, cache = ReadCache.none) {
    this.#db = db;
    this.#cache = cache;
  }

  /** Inserts a session; DuplicateError if the id or the owner's name is taken. */
  async create(session: NewSession): Promise<SessionRow> {
    const at = nowIso();
    try {
      const stored = await this.#db
        .insertInto('sessions')
        .values({
          ...session,
          options: toJsonText(session.options ?? {}) ?? '{}',
          created_at: session.created_at ?? at,
          updated_at: session.updated_at ?? session.created_at ?? at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toSessionRow(stored);
    } catch (error) {
      throw mapConstraintError(error, {
        duplicate: `A session named ${JSON.stringify(session.name)} already exists for this owner`,
      });
    }
  }

  async findById(id: string): Promise<SessionRow | undefined> {
    const stored = await this.#db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
    return stored && toSessionRow(stored);
  }

  async findByName(owner: string, name: string): Promise<SessionRow | undefined> {
    return this.#cache.read(['sessions.byName', owner, name], async () => {
      const stored = await this.#db
        .selectFrom('sessions')
        .selectAll()
        .where('owner', '=', owner)
        .where('name', '=', name)
        .executeTakeFirst();
      return stored && toSessionRow(stored);
    });
  }

  /** An owner's session by its Claude Code session id (the Python seed looked sessions up by it as well as by name). */
  async findByClaudeSessionId(owner: string, claudeSessionId: string): Promise<SessionRow | undefined> {
    const stored = await this.#db
      .selectFrom('sessions')
      .selectAll()
      .where('owner', '=', owner)
      .where('claude_session_id', '=', claudeSessionId)
      .orderBy('updated_at', 'desc')
      .executeTakeFirst();
    return stored && toSessionRow(stored);
  }

  /**
   * One page of an owner's sessions (all owners when owner is null), newest first, with the total count (through the
   * read cache). With `userId`, only the sessions of that user: labelled so, or unlabelled and owned by that id.
   */
  async list(owner: string | null, page: PageRequest, userId?: string): Promise<Page<SessionRow>> {
    checkPage(page);
    return this.#cache.read(['sessions.page', owner, page.offset, page.limit, userId ?? null], async () => {
      let query = this.#db.selectFrom('sessions');
      if (owner !== null) query = query.where('owner', '=', owner);
      if (userId !== undefined)
        query = query.where((eb) =>
          eb.or([eb('user_label', '=', userId), eb.and([eb('user_label', 'is', null), eb('owner', '=', userId)])]),
        );
      const [rows, count] = await Promise.all([
        query
          .selectAll()
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .limit(page.limit)
          .offset(page.offset)
          .execute(),
        query.select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toSessionRow), total: Number(count.total) };
    });
  }

  async countByOwner(owner: string): Promise<number> {
    const count = await this.#db
      .selectFrom('sessions')
      .select((eb) => eb.fn.countAll().as('total'))
      .where('owner', '=', owner)
      .executeTakeFirstOrThrow();
    return Number(count.total);
  }

  /**
   * Sessions whose workspace is one of `paths` or lies below `below` (the working-directory rule asks who holds a
   * folder, or is held by it); `except` is left out. Compared by code points, never by a collation or LIKE pattern.
   */
  async workspacesAt(
    paths: readonly string[],
    below: string,
    except?: string,
  ): Promise<Array<{ id: string; workspace: string }>> {
    const prefix = `${below}/`;
    let query = this.#db
      .selectFrom('sessions')
      .select(['id', 'workspace'])
      .where((eb) =>
        eb.or([
          eb('workspace', 'in', paths.length > 0 ? [...paths] : [below]),
          // eslint-disable-next-line @typescript-eslint/no-misused-spread -- SQL's substr counts code points, as this does
          eb(sql<string>`substr(workspace, 1, ${[...prefix].length})`, '=', prefix),
        ]),
      );
    if (except !== undefined) query = query.where('id', '!=', except);
    return query.execute();
  }

  /** Changes the given columns and updated_at (now unless given); undefined if no such session. */
  async update(id: string, patch: SessionPatch): Promise<SessionRow | undefined> {
    const { options, ...columns } = patch;
    try {
      const stored = await this.#db
        .updateTable('sessions')
        .set({
          ...columns,
          ...(options !== undefined && { options: toJsonText(options) ?? '{}' }),
          updated_at: patch.updated_at ?? nowIso(),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return stored && toSessionRow(stored);
    } catch (error) {
      throw mapConstraintError(error, {
        duplicate: `A session named ${JSON.stringify(patch.name)} already exists for this owner`,
      });
    }
  }

  /** Adds one turn's cost and tokens in a single atomic UPDATE and marks the session active; undefined if no such session. */
  async recordTurn(id: string, turn: TurnRecord): Promise<SessionRow | undefined> {
    const stored = await addTurn(this.#db, id, turn).returningAll().executeTakeFirst();
    return stored && toSessionRow(stored);
  }

  /** Deletes a session and (by cascade) its messages; false if there was none. */
  async delete(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('sessions').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
