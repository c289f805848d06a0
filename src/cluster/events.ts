// A session's turn events in a Redis Stream: the owner appends each numbered event, any node replays them (Last-Event-ID) after the owner is gone.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EventStream, NumberedEvent, TurnEvent } from '../engine/events.js';
import type { Turn } from '../engine/turn.js';

/** About how many events a session's stream keeps (MAXLEN ~). */
const STREAM_MAXLEN = 5000;

interface Entry {
  id: number;
  turn: string;
  event: TurnEvent;
}

/** A finished turn read back from the stream: its events after an id, then the end. */
class StoredTurn implements EventStream {
  readonly finished = true;
  constructor(
    readonly id: string,
    private readonly entries: Entry[],
  ) {}

  async *events(afterId: number): AsyncGenerator<NumberedEvent> {
    for (const e of this.entries) if (e.id > afterId) yield { id: e.id, event: e.event };
  }
}

/** How far a turn's events are in Redis, and who waits for more. */
interface Published {
  upTo: number;
  /** The copy stopped (the turn ended, or Redis failed): waiters go on without it. */
  done: boolean;
  wakers: Set<() => void>;
}

export class SharedEvents {
  private readonly published = new WeakMap<Turn, Published>();

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    /** How long a session's stream is kept after its last turn ended (TURN_REPLAY_SECONDS), ms. */
    private readonly keepMs: number,
    private readonly log: Logger,
  ) {}

  private key(sessionId: string): string {
    return `${this.keyPrefix}events:${sessionId}`;
  }

  /** Appends each of the turn's events as it comes; the stream lapses `keepMs` after the turn ended. */
  follow(turn: Turn): void {
    const key = this.key(turn.sessionId);
    const state: Published = { upTo: -1, done: false, wakers: new Set() };
    this.published.set(turn, state);
    const wake = () => {
      for (const w of [...state.wakers]) w();
    };
    void (async () => {
      try {
        await this.redis.persist(key);
        for await (const { id, event } of turn.events(turn.firstEventId - 1)) {
          await this.redis.xadd(
            key,
            'MAXLEN',
            '~',
            STREAM_MAXLEN,
            '*',
            'n',
            String(id),
            't',
            turn.id,
            'e',
            JSON.stringify(event),
          );
          state.upTo = id;
          wake();
        }
        await this.redis.pexpire(key, Math.max(1000, this.keepMs));
      } catch (err) {
        this.log.warn({ err, session: turn.sessionId, turn: turn.id }, 'could not copy turn events to Redis');
      } finally {
        state.done = true;
        wake();
      }
    })();
  }

  /**
   * The turn as a client streams it on this node: each event only once it is in Redis, so a client that saw an event
   * can replay after it on any node even if this one dies right then. A turn not copied here streams as it is.
   */
  durable(turn: Turn): EventStream {
    const state = this.published.get(turn);
    if (!state) return turn;
    return {
      id: turn.id,
      get finished() {
        return turn.finished;
      },
      async *events(afterId: number, signal?: AbortSignal) {
        for await (const e of turn.events(afterId, signal)) {
          while (state.upTo < e.id && !state.done && !signal?.aborted) {
            await new Promise<void>((resolve) => {
              const w = () => {
                state.wakers.delete(w);
                signal?.removeEventListener('abort', w);
                resolve();
              };
              state.wakers.add(w);
              signal?.addEventListener('abort', w, { once: true });
            });
          }
          yield e;
        }
      },
    };
  }

  private async entries(sessionId: string): Promise<Entry[]> {
    const raw = await this.redis.xrange(this.key(sessionId), '-', '+');
    return raw.map(([, fields]) => {
      const f = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
      return { id: Number(f.get('n')), turn: f.get('t') ?? '', event: JSON.parse(f.get('e') ?? '{}') as TurnEvent };
    });
  }

  /** The newest event id of the session's stream (-1 when none is kept). */
  async lastEventId(sessionId: string): Promise<number> {
    const newest = await this.redis.xrevrange(this.key(sessionId), '+', '-', 'COUNT', 1);
    const fields = newest[0]?.[1] ?? [];
    const i = fields.indexOf('n');
    return i >= 0 ? Number(fields[i + 1]) : -1;
  }

  /**
   * The stored turn holding the events after `afterId` (or the newest turn when none is given), as the chat routes
   * stream it; undefined when the stream keeps no such turn.
   */
  async turnAfter(sessionId: string, afterId: number | undefined): Promise<EventStream | undefined> {
    const all = await this.entries(sessionId);
    let turnId: string | undefined;
    if (afterId === undefined) turnId = all.at(-1)?.turn;
    else turnId = (all.find((e) => e.id === afterId + 1) ?? all.find((e) => e.id === afterId))?.turn;
    if (turnId === undefined) return undefined;
    return new StoredTurn(
      turnId,
      all.filter((e) => e.turn === turnId),
    );
  }
}
