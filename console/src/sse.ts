// Server-Sent Events over fetch (so the key header can be sent), reconnecting with Last-Event-ID until the turn ends.
import { authHeaders, problemOf, type ProblemError } from './api';

export interface SseEvent {
  id?: string;
  event: string;
  /** The event's JSON (plain text when it is not JSON). */
  data: unknown;
}

export interface StreamOptions {
  /** Called per event; `result` or `error` ends the stream. */
  onEvent(e: SseEvent): void;
  /** The stream could not be (re)opened: the server's problem. */
  onProblem?(p: ProblemError): void;
  /** Called once the stream is over, whatever the reason. */
  onEnd?(): void;
  signal: AbortSignal;
}

const FINAL = new Set(['result', 'error']);

/** Parses one SSE block (lines up to a blank line). */
function parseBlock(block: string): SseEvent | undefined {
  let id: string | undefined;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue;
    const at = line.indexOf(':');
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  let parsed: unknown = data.join('\n');
  try {
    parsed = JSON.parse(parsed as string);
  } catch {
    // plain text data stays text
  }
  return { id, event, data: parsed };
}

/**
 * Reads a stream opened by `open(lastEventId)`. When the connection drops before a final event, it opens again with
 * the last id it saw (a few tries, backing off), so no event is lost or repeated.
 */
export async function followStream(
  open: (lastEventId: string | undefined) => Promise<Response>,
  opts: StreamOptions,
): Promise<void> {
  let lastId: string | undefined;
  let failures = 0;
  try {
    while (!opts.signal.aborted) {
      let res: Response;
      try {
        res = await open(lastId);
      } catch {
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the signal may abort during the await above; TypeScript keeps the loop test's narrowing
        if (++failures > 5 || opts.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 500 * failures));
        continue;
      }
      if (!res.ok || !res.body) {
        opts.onProblem?.(await problemOf(res));
        return;
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, '\n');
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const e = parseBlock(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
            if (!e) continue;
            if (e.id) lastId = e.id;
            failures = 0;
            opts.onEvent(e);
            if (FINAL.has(e.event)) return;
          }
        }
      } catch {
        // connection lost: reconnect below
      }
      if (lastId === undefined || ++failures > 5) return;
      await new Promise((r) => setTimeout(r, 300 * failures));
    }
  } finally {
    opts.onEnd?.();
  }
}

/** Opens a GET stream with the key and, on a reconnect, Last-Event-ID. */
export function getStream(url: string, signal: AbortSignal) {
  return (lastEventId: string | undefined) =>
    fetch(url, {
      headers: {
        ...authHeaders(),
        Accept: 'text/event-stream',
        ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}),
      },
      signal,
    });
}
