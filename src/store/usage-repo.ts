// Sums cost, tokens and turns over the assistant messages of history, grouped by owner, session, model or day.
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { DialectName } from './connect.js';
import type { Database } from './schema.js';

export type UsageGrouping = 'owner' | 'session' | 'model' | 'day';

export interface UsageQuery {
  /** null = every owner (admin). */
  owner: string | null;
  groupBy: UsageGrouping;
  /** ISO-8601; `from` inclusive, `to` exclusive. */
  from?: string;
  to?: string;
}

export interface UsageSums {
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  turns: number;
}

/** One group: its key (owner tenant, session name, model or YYYY-MM-DD; null when the model is unknown) and its sums. */
export interface UsageGroup extends UsageSums {
  key: string | null;
  /** The owner tenant of the group's rows (session grouping only). */
  owner?: string;
}

/** The Python seed's usage figures: over the owner's current sessions, their messages and jobs. */
export interface SeedUsage {
  sessions: number;
  messages: number;
  cost: number;
  turns: number;
  jobs: {
    total: number;
    queued: number;
    running: number;
    waiting: number;
    completed: number;
    failed: number;
    cancelled: number;
  };
}

export class UsageRepo {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;

  constructor(db: Kysely<Database>, dialect: DialectName) {
    this.#db = db;
    this.#dialect = dialect;
  }

  /** A token count out of the usage JSON text of a message (0 when absent). */
  #token(field: string): RawBuilder<number> {
    return this.#dialect === 'sqlite'
      ? sql<number>`coalesce(sum(coalesce(json_extract(m.usage, ${`$.${field}`}), 0)), 0)`
      : sql<number>`coalesce(sum(coalesce((m.usage::json->>${field})::bigint, 0)), 0)`;
  }

  async summarize(q: UsageQuery): Promise<UsageGroup[]> {
    const groupExpr =
      q.groupBy === 'owner'
        ? sql<string | null>`s.owner`
        : q.groupBy === 'session'
          ? sql<string | null>`s.name`
          : q.groupBy === 'model'
            ? sql<string | null>`m.model`
            : sql<string | null>`substr(m.created_at, 1, 10)`;
    let query = this.#db
      .selectFrom('messages as m')
      .innerJoin('sessions as s', 's.id', 'm.session_id')
      .where('m.role', '=', 'assistant');
    if (q.owner !== null) query = query.where('s.owner', '=', q.owner);
    if (q.from !== undefined) query = query.where('m.created_at', '>=', q.from);
    if (q.to !== undefined) query = query.where('m.created_at', '<', q.to);
    const grouped =
      q.groupBy === 'session' ? query.groupBy([sql`s.owner`, sql`s.id`, sql`s.name`]) : query.groupBy(groupExpr);
    const rows = await grouped
      .select([
        groupExpr.as('key'),
        ...(q.groupBy === 'session' ? [sql<string>`s.owner`.as('owner')] : []),
        sql<number>`coalesce(sum(coalesce(m.cost_usd, 0)), 0)`.as('cost_usd'),
        this.#token('input_tokens').as('input_tokens'),
        this.#token('output_tokens').as('output_tokens'),
        this.#token('cache_read_input_tokens').as('cache_read_tokens'),
        this.#token('cache_creation_input_tokens').as('cache_creation_tokens'),
        sql<number>`count(*)`.as('turns'),
      ])
      .orderBy(sql`1`)
      .execute();
    return rows.map((r) => {
      const row = r as unknown as Record<string, unknown>;
      const group: UsageGroup = {
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a group key is text, a number or a day
        key: row.key === null || row.key === undefined ? null : String(row.key),
        cost_usd: Number(row.cost_usd),
        input_tokens: Number(row.input_tokens),
        output_tokens: Number(row.output_tokens),
        cache_read_tokens: Number(row.cache_read_tokens),
        cache_creation_tokens: Number(row.cache_creation_tokens),
        turns: Number(row.turns),
      };
      if (q.groupBy === 'session') group.owner = String(row.owner);
      return group;
    });
  }

  /** Sessions, messages, cost and chat turns of an owner's sessions (every owner's when null), and its jobs by state. */
  async seedUsage(owner: string | null): Promise<SeedUsage> {
    let sessions = this.#db
      .selectFrom('sessions as s')
      .select([
        sql<number | string>`count(*)`.as('sessions'),
        sql<number | string>`coalesce(sum(s.cost_usd), 0)`.as('cost'),
        sql<number | string>`coalesce(sum(s.turns), 0)`.as('turns'),
      ]);
    let messages = this.#db
      .selectFrom('messages as m')
      .innerJoin('sessions as s', 's.id', 'm.session_id')
      .select(sql<number | string>`count(*)`.as('messages'));
    let jobs = this.#db
      .selectFrom('jobs as j')
      .select(['j.status', sql<number | string>`count(*)`.as('n')])
      .groupBy('j.status');
    if (owner !== null) {
      sessions = sessions.where('s.owner', '=', owner);
      messages = messages.where('s.owner', '=', owner);
      jobs = jobs.where('j.owner', '=', owner);
    }
    const [s, m, j] = await Promise.all([sessions.executeTakeFirst(), messages.executeTakeFirst(), jobs.execute()]);
    const byStatus = new Map<string, number>(j.map((r) => [r.status, Number(r.n)]));
    const n = (status: string) => byStatus.get(status) ?? 0;
    return {
      sessions: Number(s?.sessions ?? 0),
      messages: Number(m?.messages ?? 0),
      cost: Number(s?.cost ?? 0),
      turns: Number(s?.turns ?? 0),
      jobs: {
        total: [...byStatus.values()].reduce((a, b) => a + b, 0),
        queued: n('queued'),
        running: n('running'),
        waiting: n('waiting'),
        completed: n('succeeded'),
        failed: n('failed'),
        cancelled: n('cancelled'),
      },
    };
  }
}
