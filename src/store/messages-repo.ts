// Reads and writes the messages table: the user and assistant messages of each session, in insertion order.
import type { Insertable, Kysely } from 'kysely';
import { mapConstraintError } from './errors.js';
import { ReadCache } from './read-cache.js';
import { checkPage, nowIso, toJsonText, toMessageRow } from './json-columns.js';
import type { Database, MessageRow, MessagesTable, NewMessage, Page, PageRequest } from './schema.js';

/** A new message as its row is inserted (JSON columns as text, created_at now unless given). */
export function storedMessage(message: NewMessage): Insertable<MessagesTable> {
  return {
    ...message,
    tools_used: toJsonText(message.tools_used),
    usage: toJsonText(message.usage),
    error: toJsonText(message.error),
    created_at: message.created_at ?? nowIso(),
  };
}

/** The error a message insert raises when its session does not exist (or its id is taken). */
export function messageInsertError(error: unknown, message: NewMessage): unknown {
  return mapConstraintError(error, {
    duplicate: 'A message with this id already exists',
    missingReference: `Session ${JSON.stringify(message.session_id)} does not exist`,
  });
}

export class MessagesRepo {
  readonly #db: Kysely<Database>;
  /** History pages go through it (its answers are frozen). */
  readonly #cache: ReadCache;

  constructor(db: Kysely<Database>, cache = ReadCache.none) {
    this.#db = db;
    this.#cache = cache;
  }

  /** Appends a message; MissingReferenceError if its session does not exist. */
  async insert(message: NewMessage): Promise<MessageRow> {
    try {
      const stored = await this.#db
        .insertInto('messages')
        .values(storedMessage(message))
        .returningAll()
        .executeTakeFirstOrThrow();
      return toMessageRow(stored);
    } catch (error) {
      throw messageInsertError(error, message);
    }
  }

  /** One page of a session's messages, oldest first (by id), with the total count (frozen when from the read cache). */
  async listBySession(sessionId: string, page: PageRequest): Promise<Page<MessageRow>> {
    checkPage(page);
    const load = async () => {
      const query = this.#db.selectFrom('messages').where('session_id', '=', sessionId);
      const [rows, count] = await Promise.all([
        query.selectAll().orderBy('id', 'asc').limit(page.limit).offset(page.offset).execute(),
        query.select((eb) => eb.fn.countAll().as('total')).executeTakeFirstOrThrow(),
      ]);
      return { items: rows.map(toMessageRow), total: Number(count.total) };
    };
    return this.#cache.read(['messages.page', sessionId, page.offset, page.limit], load);
  }

  /** User messages whose turn never got an assistant message (the server stopped mid-turn), oldest first. */
  async unanswered(): Promise<MessageRow[]> {
    const rows = await this.#db
      .selectFrom('messages as u')
      .selectAll('u')
      .where('u.role', '=', 'user')
      // eslint-disable-next-line @typescript-eslint/unbound-method -- Kysely's expression builder is made to be destructured
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('messages as a')
              .select('a.id')
              .whereRef('a.turn_id', '=', 'u.turn_id')
              .where('a.role', '=', 'assistant'),
          ),
        ),
      )
      .orderBy('u.id', 'asc')
      .execute();
    return rows.map(toMessageRow);
  }

  async countBySession(sessionId: string): Promise<number> {
    const count = await this.#db
      .selectFrom('messages')
      .select((eb) => eb.fn.countAll().as('total'))
      .where('session_id', '=', sessionId)
      .executeTakeFirstOrThrow();
    return Number(count.total);
  }
}
