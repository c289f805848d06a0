// The writes a session's owner node makes, fenced in SQL on the session's lease epoch: a node that lost the session to a newer owner writes nothing.
import { sql, type Kysely } from 'kysely';
import { MissingReferenceError } from './errors.js';
import { messageInsertError, storedMessage } from './messages-repo.js';
import { addTurn, type TurnRecord } from './sessions-repo.js';
import type { Database, NewMessage } from './schema.js';

/**
 * The epoch a writer holds the session's lease at (several nodes); undefined on a single node, where nothing is
 * conditioned. A write lands only while the session's recorded `lease_epoch` is at most this: a node that took the
 * session over since recorded a higher one.
 */
export type LeaseEpoch = number | undefined;

/** `written`, or `fenced`: a newer owner holds the session and nothing was written. */
export type FencedOutcome = 'written' | 'fenced';

export class FencedWrites {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Records that a node claimed the session's lease at `epoch`, only ever raising it (a late claim of an older epoch
   * changes nothing). Returns the session's epoch afterwards (higher than `epoch`: a newer claim was recorded first,
   * or the lease's epoch counter was lost), undefined when there is no such session.
   */
  async raiseEpoch(sessionId: string, epoch: number): Promise<number | undefined> {
    await this.#db
      .updateTable('sessions')
      .set({ lease_epoch: epoch })
      .where('id', '=', sessionId)
      .where('lease_epoch', '<', epoch)
      .execute();
    const row = await this.#db
      .selectFrom('sessions')
      .select('lease_epoch')
      .where('id', '=', sessionId)
      .executeTakeFirst();
    return row?.lease_epoch;
  }

  /**
   * Appends messages to a session's history (a turn's question; the `interrupted` outcomes a takeover records), and
   * with `lastEventId` raises the session's last event id to it, all or nothing. MissingReferenceError when the
   * session is gone.
   */
  async appendMessages(
    sessionId: string,
    messages: NewMessage[],
    epoch: LeaseEpoch,
    lastEventId?: number,
  ): Promise<FencedOutcome> {
    return this.fenced(sessionId, epoch, async (tx) => {
      for (const message of messages) await insertMessage(tx, message);
      if (lastEventId !== undefined)
        await tx
          .updateTable('sessions')
          .set({ last_event_id: lastEventId })
          .where('id', '=', sessionId)
          .where('last_event_id', '<', lastEventId)
          .execute();
    });
  }

  /** A turn's end: its outcome in history and what it adds to the session's totals, both or neither. */
  async endTurn(sessionId: string, outcome: NewMessage, totals: TurnRecord, epoch: LeaseEpoch): Promise<FencedOutcome> {
    return this.fenced(sessionId, epoch, async (tx) => {
      await insertMessage(tx, outcome);
      await addTurn(tx, sessionId, totals).execute();
    });
  }

  /**
   * Runs `writes` in one transaction that first takes the session row's lock on the condition that its epoch is at
   * most `epoch` (a takeover's raise waits for the transaction, or the transaction sees the raise and writes nothing).
   */
  private async fenced(
    sessionId: string,
    epoch: LeaseEpoch,
    writes: (tx: Kysely<Database>) => Promise<void>,
  ): Promise<FencedOutcome> {
    return this.#db.transaction().execute(async (tx) => {
      if (epoch !== undefined) {
        // An UPDATE that changes nothing but locks the row (PostgreSQL) while the condition holds.
        const held = await tx
          .updateTable('sessions')
          .set({ lease_epoch: sql<number>`lease_epoch` })
          .where('id', '=', sessionId)
          .where('lease_epoch', '<=', epoch)
          .executeTakeFirst();
        if (held.numUpdatedRows === 0n) {
          const exists = await tx.selectFrom('sessions').select('id').where('id', '=', sessionId).executeTakeFirst();
          if (!exists) throw new MissingReferenceError(`Session ${JSON.stringify(sessionId)} does not exist`);
          return 'fenced';
        }
      }
      await writes(tx);
      return 'written';
    });
  }
}

async function insertMessage(db: Kysely<Database>, message: NewMessage): Promise<void> {
  try {
    await db.insertInto('messages').values(storedMessage(message)).execute();
  } catch (error) {
    throw messageInsertError(error, message);
  }
}
