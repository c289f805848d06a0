// A coalescing work loop: one pass at a time, a pass asked for during a pass runs right after, then it sleeps until
// the next due time (or a poll interval) — shared by the job worker and the webhook dispatcher.

export interface PumpSteps {
  /** One pass of work. */
  work(): Promise<void>;
  /** After the passes: ms until the next due item, undefined for "nothing known" (poll), null for "don't wake". */
  nextDelayMs(): Promise<number | null | undefined>;
  onError(err: unknown): void;
}

export class Pump {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly steps: PumpSteps,
    private readonly pollMs: number,
  ) {}

  /** Runs a pass in `delayMs`, unless one is already due sooner. */
  kick(delayMs = 0): void {
    if (this.stopped) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, at - Date.now());
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await this.steps.work();
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- kick() and stop() may have run while work() was awaited
      } while (this.again && !this.stopped);
      if (this.stopped) return;
      const next = await this.steps.nextDelayMs();
      if (next !== null) this.kick(next === undefined ? this.pollMs : Math.min(this.pollMs, next));
    } catch (err) {
      this.steps.onError(err);
      this.kick(this.pollMs);
    } finally {
      this.running = false;
    }
  }
}
