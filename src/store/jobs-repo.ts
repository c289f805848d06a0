// Reads and writes the jobs table: background chat turns, their state transitions and stored outcome.
import type { Kysely, Selectable } from 'kysely';
import { mapConstraintError } from './errors.js';
import { checkPage, nowIso, toJsonText } from './json-columns.js';
import type { Database, JobStatus, JobsTable, JsonObject, Page, PageRequest } from './schema.js';

/** A job as the repository returns it (JSON columns parsed). */
export type JobRow = Omit<Selectable<JobsTable>, 'options' | 'metadata' | 'result' | 'error' | 'events'> & {
  options: JsonObject;
  metadata: unknown;
  result: JsonObject | null;
  error: JsonObject | null;
  /** The turn's numbered events, once the job has finished (null before). */
  events: unknown[] | null;
};

export interface NewJob {
  id: string;
  owner: string;
  /** The key that queued it (null in open mode). */
  key_id?: string | null;
  session_id: string;
  session_name: string;
  message: string;
  options?: JsonObject;
  webhook_url?: string | null;
  metadata?: unknown;
  created_at?: string;
}

/** How a job ended: the columns written when it leaves queued/running. */
export interface JobOutcome {
  status: Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled'>;
  result?: JsonObject | null;
  error?: JsonObject | null;
  events?: unknown[] | null;
  at?: string;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the column's JSON type
const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

function toJobRow(stored: Selectable<JobsTable>): JobRow {
  return {
    ...stored,
    options: parse<JsonObject>(stored.options) ?? {},
    metadata: parse<unknown>(stored.metadata),
    result: parse<JsonObject>(stored.result),
    error: parse<JsonObject>(stored.error),
    events: parse<unknown[]>(stored.events),
  };
}

export class JobsRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Inserts a queued job; MissingReferenceError if its session does not exist. */
  async create(job: NewJob): Promise<JobRow> {
    const at = job.created_at ?? nowIso();
    try {
      const stored = await this.#db
        .insertInto('jobs')
        .values({
          id: job.id,
          owner: job.owner,
          key_id: job.key_id ?? null,
          session_id: job.session_id,
          session_name: job.session_name,
          status: 'queued',
          message: job.message,
          options: toJsonText(job.options ?? {}) ?? '{}',
          webhook_url: job.webhook_url ?? null,
          metadata: toJsonText(job.metadata),
          turn_id: null,
          result: null,
          error: null,
          events: null,
          run_after: null,
          created_at: at,
          updated_at: at,
          started_at: null,
          finished_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toJobRow(stored);
    } catch (error) {
      throw mapConstraintError(error, {
        duplicate: 'A job with this id already exists',
        missingReference: `Session ${JSON.stringify(job.session_id)} does not exist`,
      });
    }
  }

  async findById(id: string): Promise<JobRow | undefined> {
    const stored = await this.#db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return stored && toJobRow(stored);
  }

  /** One page of a session's jobs, newest first, optionally only those in the given states. */
  async listBySession(
    sessionId: string,
    statuses: readonly JobStatus[] | undefined,
    page: PageRequest,
  ): Promise<Page<JobRow>> {
    checkPage(page);
    let query = this.#db.selectFrom('jobs').where('session_id', '=', sessionId);
    if (statuses && statuses.length > 0) query = query.where('status', 'in', [...statuses]);
    const [rows, count] = await Promise.all([
      query.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
      query.select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(toJobRow), total: Number(count.total) };
  }

  /**
   * The next job of each session that may run now, oldest first: a session's oldest queued job, if it is not
   * waiting for its run_after (a later job never overtakes it), leaving out the sessions in `busySessions` and the
   * jobs of the keys in `busyKeys` (a job's key: the key that queued it, else its owner tenant).
   */
  async runnable(
    limit: number,
    busySessions: readonly string[] = [],
    now = nowIso(),
    busyKeys: readonly string[] = [],
  ): Promise<JobRow[]> {
    let query = this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'queued')
      .where((eb) => eb.or([eb('run_after', 'is', null), eb('run_after', '<=', now)]))
      .where('id', '=', (eb) =>
        eb
          .selectFrom('jobs as head')
          .select((h) => h.fn.min('head.id').as('first'))
          .whereRef('head.session_id', '=', 'jobs.session_id')
          .where('head.status', '=', 'queued'),
      );
    if (busySessions.length > 0) query = query.where('session_id', 'not in', [...busySessions]);
    if (busyKeys.length > 0) query = query.where((eb) => eb.fn.coalesce('key_id', 'owner'), 'not in', [...busyKeys]);
    const rows = await query.orderBy('id', 'asc').limit(limit).execute();
    return rows.map(toJobRow);
  }

  /** The queued jobs of a tenant, oldest first. */
  async queuedOf(owner: string): Promise<JobRow[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('owner', '=', owner)
      .where('status', '=', 'queued')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toJobRow);
  }

  /**
   * Whether the session has a job older than `id` that has not ended (queued, or left running by a node that died and
   * not recovered yet): it must end first.
   */
  async hasOlderUnended(sessionId: string, id: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('jobs')
      .select('id')
      .where('session_id', '=', sessionId)
      .where('status', 'in', ['queued', 'running', 'waiting'])
      .where('id', '<', id)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The ids of every job that has not ended (queued, running, waiting), oldest first (to hand them to a queue again). */
  async unendedIds(limit = 10_000): Promise<string[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select('id')
      .where('status', 'in', ['queued', 'running', 'waiting'])
      .orderBy('id', 'asc')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** How many jobs are queued and due, queued for later, running (or waiting for a person), and failed. */
  async depth(now = nowIso()): Promise<{ waiting: number; active: number; delayed: number; failed: number }> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select((eb) => [
        'status',
        eb.fn.countAll().as('n'),
        eb.fn.sum(eb.case().when('run_after', '>', now).then(1).else(0).end()).as('later'),
      ])
      .where('status', 'in', ['queued', 'running', 'waiting', 'failed'])
      .groupBy('status')
      .execute();
    const depth = { waiting: 0, active: 0, delayed: 0, failed: 0 };
    for (const r of rows) {
      const n = Number(r.n);
      if (r.status === 'queued') {
        depth.delayed = Number(r.later);
        depth.waiting = n - depth.delayed;
      } else if (r.status === 'failed') depth.failed = n;
      else depth.active += n;
    }
    return depth;
  }

  /** The earliest run_after among queued jobs that must wait, if any. */
  async nextRunAfter(): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('jobs')
      .select((eb) => eb.fn.min('run_after').as('next'))
      .where('status', '=', 'queued')
      .where('run_after', 'is not', null)
      .executeTakeFirst();
    return row?.next ?? undefined;
  }

  /** queued → running once its turn starts; undefined if the job is no longer queued. */
  async markRunning(id: string, turnId: string, at = nowIso()): Promise<JobRow | undefined> {
    const stored = await this.#db
      .updateTable('jobs')
      .set((eb) => ({
        status: 'running' as const,
        turn_id: turnId,
        started_at: at,
        updated_at: at,
        run_after: null,
        attempts: eb('attempts', '+', 1),
      }))
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .returningAll()
      .executeTakeFirst();
    return stored && toJobRow(stored);
  }

  /** Keeps a queued job waiting until `runAfter` (e.g. every turn slot was busy). */
  async delay(id: string, runAfter: string): Promise<void> {
    await this.#db
      .updateTable('jobs')
      .set({ run_after: runAfter, updated_at: nowIso() })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .execute();
  }

  /** Ends a job that is still queued or running; undefined if it had already ended (or is gone). */
  async finish(
    id: string,
    outcome: JobOutcome,
    from: readonly JobStatus[] = ['queued', 'running', 'waiting'],
  ): Promise<JobRow | undefined> {
    const at = outcome.at ?? nowIso();
    const stored = await this.#db
      .updateTable('jobs')
      .set({
        status: outcome.status,
        result: toJsonText(outcome.result),
        error: toJsonText(outcome.error),
        events: toJsonText(outcome.events),
        finished_at: at,
        updated_at: at,
        run_after: null,
      })
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .returningAll()
      .executeTakeFirst();
    return stored && toJobRow(stored);
  }

  /** running ↔ waiting (its turn waits for a person); undefined if the job was not in the other state. */
  async setWaiting(id: string, waiting: boolean): Promise<JobRow | undefined> {
    const stored = await this.#db
      .updateTable('jobs')
      .set({ status: waiting ? 'waiting' : 'running', updated_at: nowIso() })
      .where('id', '=', id)
      .where('status', '=', waiting ? 'running' : 'waiting')
      .returningAll()
      .executeTakeFirst();
    return stored && toJobRow(stored);
  }

  /** Jobs left `running` (or `waiting` for a person) by a process that stopped. */
  async running(): Promise<JobRow[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('status', 'in', ['running', 'waiting'])
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toJobRow);
  }

  /** running → queued after a restart, counting the restart; undefined if it was no longer running. */
  async requeueAfterRestart(id: string): Promise<JobRow | undefined> {
    const at = nowIso();
    const stored = await this.#db
      .updateTable('jobs')
      .set((eb) => ({ status: 'queued' as const, restarts: eb('restarts', '+', 1), run_after: null, updated_at: at }))
      .where('id', '=', id)
      .where('status', '=', 'running')
      .returningAll()
      .executeTakeFirst();
    return stored && toJobRow(stored);
  }
}
