// Reads and writes the webhook_deliveries table: one signed message to one URL, its attempts and when to try next.
import type { Kysely, Selectable } from 'kysely';
import { mapConstraintError } from './errors.js';
import { nowIso } from './json-columns.js';
import type { Database, DeliveryStatus, WebhookDeliveriesTable } from './schema.js';

/** One delivery attempt as the job's delivery log shows it. */
export interface DeliveryAttempt {
  attempt: number;
  at: string;
  /** HTTP status the receiver answered, or null when there was no answer. */
  status_code: number | null;
  /** Why the attempt failed (time-out, refused address, connection error, non-2xx); null on success. */
  error: string | null;
  duration_ms: number;
}

export type DeliveryRow = Omit<Selectable<WebhookDeliveriesTable>, 'log'> & { log: DeliveryAttempt[] };

/** What `insert` takes: the message and its target; status, attempts and log start empty, times default to now. */
export type NewDelivery = Pick<WebhookDeliveriesTable, 'id' | 'job_id' | 'owner' | 'event' | 'url' | 'payload'> & {
  next_attempt_at?: string;
  created_at?: string;
};

/** What one attempt changes: the new state, the attempt count and the log entry to append. */
export interface AttemptRecord {
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  entry: DeliveryAttempt;
}

function toDeliveryRow(stored: Selectable<WebhookDeliveriesTable>): DeliveryRow {
  return { ...stored, log: JSON.parse(stored.log) as DeliveryAttempt[] };
}

export class WebhookDeliveriesRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(delivery: NewDelivery): Promise<DeliveryRow> {
    const at = delivery.created_at ?? nowIso();
    try {
      const stored = await this.#db
        .insertInto('webhook_deliveries')
        .values({
          id: delivery.id,
          job_id: delivery.job_id,
          owner: delivery.owner,
          event: delivery.event,
          url: delivery.url,
          payload: delivery.payload,
          status: 'pending',
          next_attempt_at: delivery.next_attempt_at ?? at,
          log: '[]',
          created_at: at,
          updated_at: at,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toDeliveryRow(stored);
    } catch (error) {
      throw mapConstraintError(error, {
        duplicate: `A webhook delivery ${JSON.stringify(delivery.id)} already exists`,
      });
    }
  }

  async findById(id: string): Promise<DeliveryRow | undefined> {
    const stored = await this.#db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
    return stored && toDeliveryRow(stored);
  }

  /** Pending deliveries whose next attempt is due, soonest first, leaving out those in `exclude` (being attempted). */
  async due(limit: number, exclude: readonly string[] = [], now = nowIso()): Promise<DeliveryRow[]> {
    let query = this.#db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now);
    if (exclude.length > 0) query = query.where('id', 'not in', [...exclude]);
    const rows = await query.orderBy('next_attempt_at', 'asc').orderBy('id', 'asc').limit(limit).execute();
    return rows.map(toDeliveryRow);
  }

  /** When the soonest pending delivery (not in `exclude`) is due, if any is pending. */
  async nextDueAt(exclude: readonly string[] = []): Promise<string | undefined> {
    let query = this.#db
      .selectFrom('webhook_deliveries')
      .select((eb) => eb.fn.min('next_attempt_at').as('next'))
      .where('status', '=', 'pending');
    if (exclude.length > 0) query = query.where('id', 'not in', [...exclude]);
    const row = await query.executeTakeFirst();
    return row?.next ?? undefined;
  }

  /**
   * Claims a due delivery for one attempt: moves its next attempt to `leaseUntil` if it is still pending and still
   * due at `dueAt` (as read). Of several nodes that read the same due row, exactly one claims it; if the claimer dies,
   * the delivery is due again at `leaseUntil`.
   */
  async claim(id: string, dueAt: string, leaseUntil: string): Promise<boolean> {
    const result = await this.#db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: leaseUntil, updated_at: nowIso() })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '=', dueAt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Gives a claimed delivery back (its attempt was abandoned): due again now. */
  async unclaim(id: string): Promise<void> {
    const at = nowIso();
    await this.#db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: at, updated_at: at })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  }

  /** Appends an attempt to the log and moves the delivery on; undefined if it was no longer pending. */
  async recordAttempt(id: string, record: AttemptRecord): Promise<DeliveryRow | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      const current = await trx
        .selectFrom('webhook_deliveries')
        .select(['log', 'status'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!current || current.status !== 'pending') return undefined;
      const log = [...(JSON.parse(current.log) as DeliveryAttempt[]), record.entry];
      const stored = await trx
        .updateTable('webhook_deliveries')
        .set({
          status: record.status,
          attempts: record.attempts,
          next_attempt_at: record.nextAttemptAt,
          log: JSON.stringify(log),
          updated_at: nowIso(),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      return toDeliveryRow(stored);
    });
  }

  /** The deliveries of the given jobs, oldest first. */
  async listByJobs(jobIds: readonly string[]): Promise<DeliveryRow[]> {
    if (jobIds.length === 0) return [];
    const rows = await this.#db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('job_id', 'in', [...jobIds])
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toDeliveryRow);
  }
}
