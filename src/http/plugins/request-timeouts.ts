// Request time limits: a whole request's receipt (REQUEST_TIMEOUT_SECONDS), a stalled body (BODY_IDLE_TIMEOUT_SECONDS), idle keep-alive connections; 408s as problem documents.
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config/index.js';
import { PROBLEM_CONTENT_TYPE, statusProblem } from '../http-problem.js';
import { problemType } from '../../problems.js';

/** How often Node looks for requests past their time limit, ms (its default, 30 s, would let a 2 s limit run 32 s). */
const CHECK_EVERY_MS = 1_000;
/** Node's own limit on receiving a request's headers, ms; REQUEST_TIMEOUT_SECONDS when shorter. */
const HEADERS_MS = 60_000;

type Timeouts = Config['timeouts'];

/** The Fastify server options for the time limits, and the answer to a request that broke one (or bad HTTP). */
export function timeoutOptions(timeouts: Timeouts): Pick<
  FastifyServerOptions,
  'requestTimeout' | 'keepAliveTimeout' | 'clientErrorHandler'
> & {
  http: { connectionsCheckingInterval: number; headersTimeout: number };
} {
  return {
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    http: {
      connectionsCheckingInterval: CHECK_EVERY_MS,
      headersTimeout: timeouts.requestMs > 0 ? Math.min(HEADERS_MS, timeouts.requestMs) : HEADERS_MS,
    },
    clientErrorHandler: clientError,
  };
}

/** A client error Node found before any route ran (time limit, header overflow, bad HTTP): a problem document, then close. */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request was not received in time (REQUEST_TIMEOUT_SECONDS); the connection is closed.']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'The request headers are too large.']
        : [400, 'The request is not valid HTTP.'];
  const known = status === 408 ? { slug: 'request-timeout', title: 'Request timeout' } : statusProblem(status);
  const body = JSON.stringify({ type: problemType(known.slug), title: known.title, status, detail });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export interface RequestTimeoutsOptions {
  timeouts: Timeouts;
}

/**
 * Closes the connection of a request whose body stops arriving for BODY_IDLE_TIMEOUT_SECONDS (the route sees its
 * body end early, so an upload removes its partial file). The limit holds only while the body is received: a
 * request whose body is in may wait for its answer as long as its turn runs.
 */
export default fp<RequestTimeoutsOptions>(
  async (app, { timeouts }) => {
    const idleMs = timeouts.bodyIdleMs;
    if (idleMs <= 0) return;
    app.addHook('onRequest', async (request) => {
      const raw = request.raw;
      const hasBody = raw.headers['transfer-encoding'] !== undefined || Number(raw.headers['content-length'] ?? 0) > 0;
      const socket = raw.socket;
      // Injected requests (app.inject) have a stand-in socket without timers: nothing to time out.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- light-my-request's socket lacks timers
      if (!hasBody || raw.complete || typeof socket?.setTimeout !== 'function') return;
      const stalled = () => {
        request.log.warn(
          { idle_ms: idleMs },
          'request body stalled; closing the connection (BODY_IDLE_TIMEOUT_SECONDS)',
        );
        socket.destroy();
      };
      const done = () => {
        socket.off('timeout', stalled);
        if (!socket.destroyed) socket.setTimeout(0);
      };
      socket.setTimeout(idleMs);
      socket.on('timeout', stalled);
      raw.once('end', done);
      raw.once('close', done);
    });
  },
  { name: 'request-timeouts', fastify: '5.x' },
);
