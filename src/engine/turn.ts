// One turn of a session: its numbered event log, live subscribers, replay after an event id, and its outcome.
import { randomUUID } from 'node:crypto';
import type { NumberedEvent, TurnEvent, TurnResult } from './events.js';
import { EngineError } from './errors.js';

export type TurnState = 'queued' | 'running' | 'finished';
/** Why a turn is asked to stop: a client's request, its time limit, or the stall watchdog. */
export type InterruptReason = 'client' | 'timeout' | 'stalled';

export class Turn {
  readonly id = randomUUID();
  readonly createdAt = Date.now();
  state: TurnState = 'queued';
  startedAt: number | undefined;
  finishedAt: number | undefined;
  /** Set once the turn ends: its result, or the error that ended it. */
  result: TurnResult | undefined;
  error: EngineError | undefined;
  /** What a failed turn still produced (cost, tools, text), kept for history. */
  partial: TurnResult | undefined;
  /** The cumulative cost the CLI reported with this turn's result (for the next resume's baseline). */
  claudeCostTotal: number | undefined;
  /** Settles after the turn has ended and its end hook (history, totals) has run. */
  settled: Promise<void> = Promise.resolve();
  /** Asks whoever runs the turn to stop it; set by the engine while the turn runs. */
  interruptHandler: ((reason: InterruptReason) => void) | undefined;
  interruptRequested: InterruptReason | undefined;
  /** Whose share the turn uses (the acting key, else the tenant), as the engine was told. */
  owner: string | undefined;

  private readonly log: NumberedEvent[] = [];
  /** How many questions to a person are open; while any is, the turn's clock stands still. */
  private waits = 0;
  private readonly waitListeners = new Set<(waiting: boolean) => Promise<void> | void>();
  private clock:
    { remainingMs: number; since: number; timer: NodeJS.Timeout | undefined; onExpire: () => void } | undefined;
  private readonly wakers = new Set<() => void>();
  private nextId = 0;
  private markStarted!: () => void;
  private readonly startedPromise: Promise<void>;
  private settle!: { resolve: (r: TurnResult) => void; reject: (e: EngineError) => void };
  /** Resolves with the result, or rejects with the EngineError that ended the turn. */
  readonly done: Promise<TurnResult>;

  constructor(
    readonly sessionId: string,
    readonly message: string,
  ) {
    this.startedPromise = new Promise<void>((resolve) => {
      this.markStarted = resolve;
    });
    this.done = new Promise<TurnResult>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.done.catch(() => undefined); // observed through `error`; never an unhandled rejection
  }

  get lastEventId(): number {
    return this.nextId - 1;
  }

  get firstEventId(): number {
    return this.log[0]?.id ?? this.nextId;
  }

  /** The turn leaves its queues and numbers its events from `firstEventId`. */
  begin(firstEventId: number): void {
    if (this.state !== 'queued') return;
    this.startedAt = Date.now();
    this.nextId = firstEventId;
    this.state = 'running';
    this.markStarted();
  }

  /** Resolves once the turn runs, or has ended without running (then `error` says why). */
  whenStarted(): Promise<void> {
    return Promise.race([
      this.startedPromise,
      this.done.then(
        () => undefined,
        () => undefined,
      ),
    ]);
  }

  get finished(): boolean {
    return this.state === 'finished';
  }

  emit(event: TurnEvent): void {
    if (this.state !== 'running') return;
    this.log.push({ id: this.nextId++, event });
    this.wake();
  }

  finish(result: TurnResult): void {
    if (this.finished) return;
    this.emit({ type: 'result', ...result });
    this.result = result;
    this.end();
    this.settle.resolve(result);
  }

  fail(error: EngineError): void {
    if (this.finished) return;
    if (this.state === 'running') this.emit({ type: 'error', problem: error.toProblem() });
    this.error = error;
    this.end();
    this.settle.reject(error);
  }

  /** True while the turn waits for a person (an approval or a question is open). */
  get waiting(): boolean {
    return this.waits > 0;
  }

  /**
   * Called with `true` when the turn starts waiting for a person and with `false` when it goes on (the turn resumes
   * only after every listener settled: e.g. after it got its turn slot back). Returns an unsubscribe function.
   */
  onWaiting(fn: (waiting: boolean) => Promise<void> | void): () => void {
    this.waitListeners.add(fn);
    return () => this.waitListeners.delete(fn);
  }

  /**
   * Waits for a person's answer: the clock stops and listeners hear of it until `answer` settles. `announce` runs once
   * the turn counts as waiting (so whoever it tells sees it so).
   */
  async awaitPerson<T>(answer: Promise<T>, announce?: () => Promise<void>): Promise<T> {
    if (this.waits++ === 0) {
      this.pauseClock();
      await this.tell(true);
    }
    try {
      await announce?.();
      return await answer;
    } finally {
      if (--this.waits === 0) {
        await this.tell(false);
        this.resumeClock();
      }
    }
  }

  /**
   * Runs `onExpire` after `ms` of the turn's own time: time spent waiting for a person does not count.
   * Returns the function that stops the clock.
   */
  startClock(ms: number, onExpire: () => void): () => void {
    this.clock = { remainingMs: ms, since: Date.now(), timer: undefined, onExpire };
    if (!this.waiting) this.resumeClock();
    return () => {
      if (this.clock?.timer) clearTimeout(this.clock.timer);
      this.clock = undefined;
    };
  }

  private pauseClock(): void {
    const c = this.clock;
    if (!c?.timer) return;
    clearTimeout(c.timer);
    c.timer = undefined;
    c.remainingMs = Math.max(0, c.remainingMs - (Date.now() - c.since));
  }

  private resumeClock(): void {
    const c = this.clock;
    if (!c || c.timer) return;
    c.since = Date.now();
    c.timer = setTimeout(c.onExpire, c.remainingMs);
  }

  private async tell(waiting: boolean): Promise<void> {
    await Promise.all(
      [...this.waitListeners].map(async (fn) => {
        try {
          await fn(waiting);
        } catch {
          // a listener's failure never keeps the turn from going on
        }
      }),
    );
  }

  /** Ask the runner to stop this turn; a queued turn fails at once. */
  interrupt(reason: InterruptReason): void {
    if (this.finished || this.interruptRequested) return;
    this.interruptRequested = reason;
    if (this.interruptHandler) this.interruptHandler(reason);
    else if (this.state === 'queued')
      this.fail(new EngineError('interrupted', 'The turn was cancelled before it started.'));
  }

  /** True when this turn holds the event with that id, or the id is its last one. */
  covers(eventId: number): boolean {
    return eventId >= this.firstEventId - 1 && eventId <= this.lastEventId;
  }

  /** Every event after `afterId`, then live ones until the turn ends or `signal` aborts. */
  async *events(afterId = 0, signal?: AbortSignal): AsyncGenerator<NumberedEvent> {
    let index = this.log.findIndex((e) => e.id > afterId);
    if (index < 0) index = this.log.length;
    while (!signal?.aborted) {
      while (index < this.log.length) {
        const e = this.log[index++]!;
        if (e.id > afterId) yield e;
      }
      if (this.finished) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.wakers.delete(wake);
          signal?.removeEventListener('abort', wake);
          resolve();
        };
        this.wakers.add(wake);
        signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  private end(): void {
    this.state = 'finished';
    this.finishedAt = Date.now();
    this.interruptHandler = undefined;
    this.wake();
  }

  private wake(): void {
    for (const wake of [...this.wakers]) wake();
  }
}
