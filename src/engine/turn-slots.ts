// The cap on concurrent turns, overall and per key: a FIFO semaphore that skips waiters whose key holds its share, whose waiters give up after a time limit.
import { EngineError } from './errors.js';

interface Waiter {
  owner: string;
  grant: () => void;
  timer: NodeJS.Timeout | undefined;
}

export class TurnSlots {
  private running = 0;
  private readonly waiters: Waiter[] = [];
  /** Running turns per owner (key). */
  private readonly byOwner = new Map<string, number>();

  constructor(
    private readonly capacity: number,
    private readonly waitLimitMs: number,
    /** Most slots one owner may hold at once (MAX_CONCURRENT_TURNS_PER_KEY); the whole capacity by default. */
    private readonly perOwner = capacity,
  ) {}

  get inUse(): number {
    return this.running;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Slots the owner holds now. */
  heldBy(owner: string): number {
    return this.byOwner.get(owner) ?? 0;
  }

  /**
   * Resolves with a release function once a slot is free and the owner holds fewer than its share; waiters are
   * served first come first served among those under their share, so one owner's backlog never holds up another's
   * turn. Rejects with 503-kind `overloaded` (with Retry-After) after the wait limit (`patient`: no limit, for a
   * turn that already ran and goes on after waiting for a person).
   */
  acquire(signal?: AbortSignal, opts: { patient?: boolean; owner?: string } = {}): Promise<() => void> {
    const owner = opts.owner ?? '';
    if (signal?.aborted)
      return Promise.reject(new EngineError('interrupted', 'The turn was cancelled while waiting for a slot.'));
    // Every waiter under its share is granted as soon as a slot frees, so none is passed over here.
    if (this.running < this.capacity && this.heldBy(owner) < this.perOwner) {
      this.take(owner);
      return Promise.resolve(this.releaser(owner));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        owner,
        grant: () => {
          cleanup();
          this.take(owner);
          resolve(this.releaser(owner));
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
      if (!opts.patient) waiter.timer = setTimeout(() => giveUp(this.timeout(owner)), this.waitLimitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private timeout(owner: string): EngineError {
    const retryAfterSeconds = Math.max(1, Math.ceil(this.waitLimitMs / 1000));
    const seconds = this.waitLimitMs / 1000;
    const detail =
      this.heldBy(owner) >= this.perOwner
        ? `This API key already runs ${this.perOwner} turns (MAX_CONCURRENT_TURNS_PER_KEY), and none ended within ${seconds} s; try again later.`
        : `All ${this.capacity} turn slots stayed busy for ${seconds} s; try again later.`;
    return new EngineError('overloaded', detail, { retryAfterSeconds });
  }

  private take(owner: string): void {
    this.running++;
    this.byOwner.set(owner, this.heldBy(owner) + 1);
  }

  private releaser(owner: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const left = this.heldBy(owner) - 1;
      if (left > 0) this.byOwner.set(owner, left);
      else this.byOwner.delete(owner);
      this.grantWaiting();
    };
  }

  /** Grants free slots to the oldest waiters whose owner is under its share. */
  private grantWaiting(): void {
    while (this.running < this.capacity) {
      const i = this.waiters.findIndex((w) => this.heldBy(w.owner) < this.perOwner);
      if (i < 0) return;
      const [next] = this.waiters.splice(i, 1);
      next!.grant();
    }
  }
}
