// Writes a turn's events as Server-Sent Events: numbered `id:`s, replay after Last-Event-ID, heartbeats, client-gone handling.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventStream, NumberedEvent } from '../engine/events.js';
import { hijackWithHeaders } from './hijack.js';
import { unauthorized } from './http-problem.js';

/** The last event of a stream whose key was revoked while it was open. */
const REVOKED_PROBLEM = unauthorized('The API key has been revoked; this stream ends.', 'revoked-api-key').toProblem();
const REVOKED_FRAME = `event: error\ndata: ${JSON.stringify({
  type: 'error',
  problem: REVOKED_PROBLEM,
  error: REVOKED_PROBLEM.detail,
})}\n\n`;

export interface StreamOptions {
  /** Send only events with a greater id. */
  afterId: number;
  heartbeatMs: number;
  /** Called when the client goes away before the turn ended. */
  onClientGone?: () => void;
  /** Extra response headers (e.g. X-Job-ID). */
  headers?: Record<string, string>;
  /** The frames written for each event (default: its own frame); e.g. the Python seed's vocabulary beside ours. */
  frames?: (e: NumberedEvent) => string[];
}

/** The Last-Event-ID a reconnecting client sent (header, or `last_event_id` query), if it is a number. */
export function lastEventIdOf(request: FastifyRequest): number | undefined {
  const header = request.headers['last-event-id'];
  const query = (request.query as Record<string, unknown> | undefined)?.last_event_id;
  const raw =
    typeof header === 'string' && header.trim() !== '' ? header : typeof query === 'string' ? query : undefined;
  if (raw === undefined || !/^\d{1,15}$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

export function formatEvent(e: NumberedEvent): string {
  return `id: ${e.id}\nevent: ${e.event.type}\ndata: ${JSON.stringify(e.event)}\n\n`;
}

/** A taken-over response writing SSE frames: back-pressure, heartbeats, and a signal for a client that left. */
export interface FrameStream {
  /** Aborts when the client goes away before the end. */
  readonly gone: AbortSignal;
  write(chunk: string): Promise<void>;
  /** Stops the heartbeats and ends the response (unless the client already left). */
  end(): void;
}

/** Takes the response over from Fastify and opens an event stream with these extra headers. */
export function openFrameStream(
  reply: FastifyReply,
  headers: Record<string, string>,
  heartbeatMs: number,
): FrameStream {
  hijackWithHeaders(reply);
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    ...headers,
  });
  const gone = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) gone.abort();
  };
  res.on('close', onClose);
  // The key was revoked: a last `error` event, then the stream ends as if the client had left.
  const revoked = reply.server.revocationSignal?.(reply);
  const onRevoked = () => {
    if (gone.signal.aborted) return;
    res.end(REVOKED_FRAME);
    gone.abort();
  };
  revoked?.addEventListener('abort', onRevoked, { once: true });
  const write = async (chunk: string) => {
    if (gone.signal.aborted || res.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        res.off('drain', done);
        gone.signal.removeEventListener('abort', done);
        resolve();
      };
      res.on('drain', done);
      gone.signal.addEventListener('abort', done, { once: true });
    });
  };
  const heartbeat = setInterval(() => void write(': ping\n\n'), heartbeatMs);
  return {
    gone: gone.signal,
    write,
    end() {
      clearInterval(heartbeat);
      res.off('close', onClose);
      revoked?.removeEventListener('abort', onRevoked);
      if (!gone.signal.aborted) res.end();
    },
  };
}

/** Takes over the response and streams the turn until it ends or the client leaves. */
export async function streamTurn(reply: FastifyReply, turn: EventStream, opts: StreamOptions): Promise<void> {
  const headers = { ...(turn.id !== undefined && { 'x-turn-id': turn.id }), ...opts.headers };
  const out = openFrameStream(reply, headers, opts.heartbeatMs);
  try {
    await out.write(': stream open\n\n');
    const frames = opts.frames ?? ((e: NumberedEvent) => [formatEvent(e)]);
    for await (const e of turn.events(opts.afterId, out.gone)) await out.write(frames(e).join(''));
  } finally {
    out.end();
    if (out.gone.aborted && !turn.finished) opts.onClientGone?.();
  }
}
