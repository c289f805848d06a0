// Idempotency-Key on POST sessions, chat, chat/stream and jobs: a repeat gets the first response (status and body) and runs nothing again.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { IdempotencyRow, Store } from '../../store/index.js';
import { HttpProblem } from '../http-problem.js';
import { lastEventIdOf } from '../sse.js';

/**
 * How a repeat is treated while the first request is still running: a sync chat waits for it and gets its
 * response; creating a session or job, or a streamed chat, gets 409 (retry later, or attach to the stream).
 */
type Kind = 'create' | 'sync' | 'stream';

/** The routes that take the header, by method and path below the API prefix. */
const ROUTES: Record<string, Kind> = {
  'POST /sessions': 'create',
  'POST /sessions/:name/chat': 'sync',
  'POST /sessions/:name/chat/stream': 'stream',
  'POST /sessions/:name/jobs': 'create',
};

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
export const MAX_KEY_LENGTH = 255;
/** An in-flight claim counts as abandoned (its process died) this long after its last sign of life. */
const LOCK_MS = 120_000;
const LOCK_REFRESH_MS = 30_000;
/** How often a waiting repeat looks at the table (the first request may run in another process). */
const WAIT_POLL_MS = 250;
/** Response headers replayed with the stored body. */
const KEPT_HEADERS = ['content-type', 'location'];
/** A stored event stream larger than this keeps its non-text events only. */
const STREAM_BYTES = 1024 * 1024;

export interface IdempotencyOptions {
  store: Pick<Store, 'idempotency'>;
  ttlMs: number;
  apiPrefix: string;
}

interface Claim {
  tenant: string;
  key: string;
  kind: Kind;
  done: boolean;
  refresh: NodeJS.Timeout;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyClaim?: Claim;
  }
}

/** JSON with object keys sorted, so two bodies that differ only in key order are the same request. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify answers undefined for undefined, a function or a symbol
  return JSON.stringify(value) ?? 'null';
}

/** What identifies a request under one key: method, path and body. */
export function fingerprintOf(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method} ${path}\n${canonicalJson(body ?? null)}`)
    .digest('hex');
}

/**
 * Responses worth replaying: successes and client errors. Not kept (the key is freed, so a retry runs again):
 * 5xx (the failure may be passing: Claude API error, overload, time-out), 408, 409 and 429 (busy or limited).
 */
export function isStorable(status: number): boolean {
  return status >= 200 && status < 500 && ![408, 409, 425, 429].includes(status);
}

function keyProblem(message: string): HttpProblem {
  return new HttpProblem(422, `Invalid Idempotency-Key header: ${message}.`, {
    slug: 'idempotency-key-invalid',
    title: 'Invalid Idempotency-Key',
    extra: { errors: [{ location: 'headers', pointer: '/idempotency-key', message }] },
  });
}

/** A route option's hooks as a list (it may hold none, one or several). */
function hooksOf<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

export default fp<IdempotencyOptions>(
  async (app, { store, ttlMs, apiPrefix }) => {
    const repo = store.idempotency;
    const settled = new EventEmitter().setMaxListeners(0);
    let lastSweep = 0;
    const id = (tenant: string, key: string) => `${tenant}\u0000${key}`;

    const sweep = () => {
      if (Date.now() - lastSweep < 60_000) return;
      lastSweep = Date.now();
      repo.deleteExpired().catch((err: unknown) => app.log.warn({ err }, 'could not delete expired idempotency keys'));
    };

    const waitForSettle = (tenant: string, key: string) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          settled.off(id(tenant, key), done);
          resolve();
        };
        const timer = setTimeout(done, WAIT_POLL_MS);
        settled.on(id(tenant, key), done);
      });

    const replay = (reply: FastifyReply, row: IdempotencyRow) => {
      reply.code(row.response_status ?? 200).headers({ ...(row.response_headers ?? {}), [REPLAYED_HEADER]: 'true' });
      return reply.send(row.response_body ?? '');
    };

    const finish = async (
      claim: Claim,
      response: { status: number; headers: Record<string, string>; body: string } | undefined,
    ) => {
      if (claim.done) return;
      claim.done = true;
      clearInterval(claim.refresh);
      try {
        if (response && isStorable(response.status)) await repo.complete(claim.tenant, claim.key, response);
        else await repo.release(claim.tenant, claim.key);
      } catch (err) {
        app.log.error({ err }, 'could not store the idempotent response');
      } finally {
        settled.emit(id(claim.tenant, claim.key));
      }
    };

    /** Follows a hijacked SSE response: its frames (heartbeats left out) are stored once the stream ends. */
    const captureStream = (reply: FastifyReply, claim: Claim) => {
      const res = reply.raw;
      const frames: string[] = [];
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        if (!claim.done && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
          const text = chunk.toString();
          if (!text.startsWith(':')) frames.push(text);
        }
        return write(chunk, ...rest);
      }) as typeof res.write;
      res.once('finish', () => {
        if (claim.done) return;
        let body = frames.join('');
        if (body.length > STREAM_BYTES) body = frames.filter((f) => !/^id: \d+\nevent: text\n/.test(f)).join('');
        const type = String(res.getHeader('content-type') ?? 'text/event-stream; charset=utf-8');
        void finish(claim, { status: res.statusCode, headers: { 'content-type': type }, body });
      });
      res.once('close', () => {
        if (!res.writableFinished) void finish(claim, undefined); // the client left mid-stream: nothing to replay
      });
    };

    const preHandler = (kind: Kind) => async (request: FastifyRequest, reply: FastifyReply) => {
      const header = request.headers[IDEMPOTENCY_HEADER];
      if (header === undefined) return;
      if (Array.isArray(header)) throw keyProblem('send it once');
      if (header.length === 0) throw keyProblem('it is empty');
      if (header.length > MAX_KEY_LENGTH) throw keyProblem(`it is longer than ${MAX_KEY_LENGTH} characters`);
      if (kind === 'stream' && lastEventIdOf(request) !== undefined) return; // re-attaching to a stream runs nothing
      const tenant = request.tenant;
      const fingerprint = fingerprintOf(request.method, pathOf(request.url), request.body);
      sweep();
      for (;;) {
        const row = await repo.find(tenant, header);
        if (!row) {
          const now = Date.now();
          const claimed = await repo.claim({
            tenant,
            key: header,
            fingerprint,
            lockedUntil: new Date(now + LOCK_MS).toISOString(),
            expiresAt: new Date(now + ttlMs).toISOString(),
          });
          if (!claimed) continue; // another request took the key this instant: look again
          const refresh = setInterval(() => {
            repo.extendLock(tenant, header, new Date(Date.now() + LOCK_MS).toISOString()).catch(() => undefined);
          }, LOCK_REFRESH_MS);
          refresh.unref();
          const claim: Claim = { tenant, key: header, kind, done: false, refresh };
          request.idempotencyClaim = claim;
          if (kind === 'stream') captureStream(reply, claim);
          return;
        }
        if (row.fingerprint !== fingerprint) {
          throw new HttpProblem(
            422,
            'This Idempotency-Key was already used with a different request (method, path or body); use a new key for a new request.',
            {
              slug: 'idempotency-key-reused',
              title: 'Idempotency-Key reused',
              extra: {
                errors: [
                  { location: 'headers', pointer: '/idempotency-key', message: 'was used with a different request' },
                ],
              },
            },
          );
        }
        if (row.status === 'completed') return replay(reply, row);
        if (row.locked_until !== null && row.locked_until <= new Date().toISOString()) {
          await repo.dropAbandoned(tenant, header); // its process died before answering
          continue;
        }
        if (kind !== 'sync') {
          throw new HttpProblem(
            409,
            'A request with this Idempotency-Key is still being processed; retry after it has finished.',
            {
              slug: 'idempotency-in-flight',
              title: 'Idempotent request in flight',
              headers: { 'Retry-After': '1' },
            },
          );
        }
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- an injected or closed request may have no socket
        if (request.raw.socket?.destroyed)
          throw new HttpProblem(409, 'The client left while waiting for the first request with this Idempotency-Key.', {
            slug: 'idempotency-in-flight',
            title: 'Idempotent request in flight',
          });
        await waitForSettle(tenant, header);
      }
    };

    const onSend = async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const claim = request.idempotencyClaim;
      if (!claim || claim.done) return payload;
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- an injected or closed request may have no socket
      if (reply.raw.destroyed || request.raw.socket?.destroyed) {
        // The client left before its answer: it never saw it (a sync chat was interrupted), so a retry runs anew.
        await finish(claim, undefined);
        return payload;
      }
      const body =
        typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : undefined;
      const headers: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const value = reply.getHeader(name);
        if (value !== undefined) headers[name] = String(value);
      }
      await finish(claim, body === undefined ? undefined : { status: reply.statusCode, headers, body });
      return payload;
    };

    const onResponse = async (request: FastifyRequest) => {
      const claim = request.idempotencyClaim;
      if (claim && !claim.done && claim.kind !== 'stream') await finish(claim, undefined);
    };

    // Only the routes that take the header get the hooks (other requests pay nothing), and it is documented on them.
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const kind = route.url.startsWith(apiPrefix)
        ? methods.map((m) => ROUTES[`${m} ${route.url.slice(apiPrefix.length)}`]).find((k) => k !== undefined)
        : undefined;
      if (kind === undefined) return;
      route.preHandler = [...hooksOf(route.preHandler), preHandler(kind)];
      route.onSend = [...hooksOf(route.onSend), onSend];
      route.onResponse = [...hooksOf(route.onResponse), onResponse];
      const headers = (route.schema?.headers ?? { type: 'object', properties: {} }) as {
        properties?: Record<string, unknown>;
      };
      route.schema = {
        ...route.schema,
        headers: {
          ...headers,
          properties: {
            ...headers.properties,
            [IDEMPOTENCY_HEADER]: {
              type: 'string',
              description: `Makes a retry safe: the same key with the same request, from the same API key, within IDEMPOTENCY_TTL_SECONDS, gets the first response again (\`Idempotent-Replayed: true\`) and runs nothing. 1–${MAX_KEY_LENGTH} characters.`,
            },
          },
        },
      };
    });
  },
  { name: 'idempotency', fastify: '5.x', dependencies: ['auth'] },
);
