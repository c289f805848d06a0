// Reads a Server-Sent Events response from fetch with eventsource-parser, event by event, as a test client would.
import { createParser } from 'eventsource-parser';

export interface SseEvent {
  id: number;
  event: string;
  data: any;
}

export interface SseReader {
  events: SseEvent[];
  comments: string[];
  /** Resolves with the next event (or undefined when the stream ended). */
  next(): Promise<SseEvent | undefined>;
  /** Reads until the stream ends; returns every event read so far. */
  all(): Promise<SseEvent[]>;
  /** Drops the connection, as a client that goes away would. */
  abort(): void;
}

export function readSse(response: Response, controller?: AbortController): SseReader {
  if (!response.body) throw new Error('response has no body');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const pending: SseEvent[] = [];
  let ended = false;
  const parser = createParser({
    onEvent: (m) => {
      const e = { id: Number(m.id), event: m.event ?? 'message', data: JSON.parse(m.data) };
      events.push(e);
      pending.push(e);
    },
    onComment: (c) => comments.push(c.trim()),
  });
  const pump = async (): Promise<boolean> => {
    if (ended) return false;
    try {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        return false;
      }
      parser.feed(value);
      return true;
    } catch {
      ended = true;
      return false;
    }
  };
  return {
    events,
    comments,
    async next() {
      while (pending.length === 0) if (!(await pump())) break;
      return pending.shift();
    },
    async all() {
      while (await pump());
      pending.length = 0;
      return events;
    },
    abort() {
      ended = true;
      controller?.abort();
      void reader.cancel().catch(() => undefined);
    },
  };
}

/** This server's own events of a chat stream: the Python seed's frames beside them carry no id. */
export function ownEvents(events: SseEvent[]): SseEvent[] {
  return events.filter((e) => Number.isInteger(e.id));
}
