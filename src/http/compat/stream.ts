// A streamed compatible answer: takes the response over, writes SSE frames with back-pressure and heartbeats, notices a client that left.
import type { FastifyReply } from 'fastify';
import { hijackWithHeaders } from '../hijack.js';

export interface FrameStream {
  /** Aborts when the client goes away before the end. */
  readonly gone: AbortSignal;
  write(chunk: string): Promise<void>;
  end(): void;
}

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
  const write = async (chunk: string) => {
    if (gone.signal.aborted) return;
    if (res.write(chunk)) return;
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
      if (!gone.signal.aborted) res.end();
    },
  };
}
