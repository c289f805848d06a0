// Stop sequences on an answer's text: cut at the first one, also across streamed deltas (holding back a possible prefix).

export interface StopOutcome {
  /** The text up to the first stop sequence (all of it when none occurs). */
  text: string;
  /** The stop sequence that cut it, if one did. */
  matched: string | undefined;
}

/** The text cut at the earliest stop sequence. */
export function cutAtStop(text: string, stops: readonly string[]): StopOutcome {
  let at = -1;
  let matched: string | undefined;
  for (const stop of stops) {
    const i = text.indexOf(stop);
    if (i >= 0 && (at < 0 || i < at)) [at, matched] = [i, stop];
  }
  return at < 0 ? { text, matched: undefined } : { text: text.slice(0, at), matched };
}

/** Streams text through the stop sequences: what may be sent now, keeping back the end that could begin one. */
export class StopScanner {
  private held = '';
  matched: string | undefined;
  private readonly keep: number;

  constructor(private readonly stops: readonly string[]) {
    this.keep = Math.max(0, ...stops.map((s) => s.length - 1));
  }

  get stopped(): boolean {
    return this.matched !== undefined;
  }

  /** The part of `text` (with what was held) that is safe to send; '' once stopped. */
  push(text: string): string {
    if (this.stopped) return '';
    const all = this.held + text;
    const cut = cutAtStop(all, this.stops);
    if (cut.matched !== undefined) {
      this.matched = cut.matched;
      this.held = '';
      return cut.text;
    }
    const safe = Math.max(0, all.length - this.keep);
    this.held = all.slice(safe);
    return all.slice(0, safe);
  }

  /** What is still held at the end of the text (no stop sequence began there). */
  flush(): string {
    const rest = this.stopped ? '' : this.held;
    this.held = '';
    return rest;
  }
}
