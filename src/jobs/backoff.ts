// Delay before the next webhook attempt: exponential from a base, capped, with random jitter.

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay after the given failed attempt (1 = the first): base·2^(attempt−1), capped at max, of which a random
 * part up to a half is taken off ("equal jitter"), so receivers recovering from an outage are not hit all at once.
 */
export function retryDelayMs(attempt: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const exponential = settings.baseMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(settings.maxMs, exponential);
  return Math.round(capped / 2 + (capped / 2) * random());
}
