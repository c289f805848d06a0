// Serializes the turns of one session: each waits, in order, for the one before it.

export class SessionQueue {
  private tail: Promise<void> = Promise.resolve();

  /** Waits for every earlier turn of the session, then resolves with a release function. */
  async enter(): Promise<() => void> {
    let release!: () => void;
    const previous = this.tail;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  }
}
