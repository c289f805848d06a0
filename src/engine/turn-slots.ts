// The global cap on concurrent turns: a FIFO semaphore whose waiters give up after a time limit.
import { EngineError } from './errors.js';

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout | undefined;
}

export class TurnSlots {
  private running = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly capacity: number,
    private readonly waitLimitMs: number,
  ) {}

  get inUse(): number {
    return this.running;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * Resolves with a release function once a slot is free; rejects with 503-kind `overloaded` after the wait limit
   * (`patient`: no limit, for a turn that already ran and goes on after waiting for a person).
   */
  acquire(signal?: AbortSignal, opts: { patient?: boolean } = {}): Promise<() => void> {
    if (signal?.aborted)
      return Promise.reject(new EngineError('interrupted', 'The turn was cancelled while waiting for a slot.'));
    if (this.running < this.capacity && this.waiters.length === 0) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          cleanup();
          this.running++;
          resolve(this.releaser());
        },
        timer: undefined,
      };
      const giveUp = (error: EngineError) => {
        cleanup();
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(error);
      };
      const onAbort = () => giveUp(new EngineError('interrupted', 'The turn was cancelled while waiting for a slot.'));
      const cleanup = () => {
        if (waiter.timer) clearTimeout(waiter.timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const retryAfterSeconds = Math.max(1, Math.ceil(this.waitLimitMs / 1000));
      if (!opts.patient)
        waiter.timer = setTimeout(
          () =>
            giveUp(
              new EngineError(
                'overloaded',
                `All ${this.capacity} turn slots stayed busy for ${this.waitLimitMs / 1000} s; try again later.`,
                { retryAfterSeconds },
              ),
            ),
          this.waitLimitMs,
        );
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      this.waiters.shift()?.grant();
    };
  }
}
