// Several nodes: an MCP chat turn on a session another node runs, run there through that node's REST chat route.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TurnEvent, TurnResult } from '../engine/events.js';
import { ownerGone, type OwnerNode } from '../http/plugins/forward.js';
import { ProblemError } from '../problems.js';

/** Where the MCP request's turns go when another node runs their session. */
export interface RemoteTurns {
  /** The node that runs the session, or undefined to run the turn here (throws the cluster's 503/409 problems). */
  ownerOf(sessionId: string): Promise<OwnerNode | undefined>;
  /** The caller's own headers to send there (its API key, X-Tenant), so the owner acts for the same caller. */
  headers: Record<string, string>;
}

/** The request headers that say who the caller is, passed on to the owner node. */
const CALLER_HEADERS = ['authorization', 'x-api-key', 'x-tenant', 'x-request-id'] as const;

export function callerHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of CALLER_HEADERS) {
    const value = headers[name];
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first;
  }
  return out;
}

const unreachable = (owner: OwnerNode) => ownerGone(owner.node, owner.ttlMs);

/**
 * A problem document the owner answered, as this node's own error (its status, type and detail kept, and its
 * Retry-After, in whole seconds, as the error's retry hint).
 */
function problemFrom(status: number, body: unknown, owner: OwnerNode, retryAfter?: string): ProblemError {
  const doc = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { type, title, status: _status, detail, instance: _instance, ...extra } = doc;
  const slug = typeof type === 'string' ? type.replace(/^\/problems\//, '') : 'bad-gateway';
  const problem = new ProblemError(
    status,
    slug,
    typeof title === 'string' ? title : 'Bad gateway',
    typeof detail === 'string' ? detail : `Node ${owner.node}, which runs this session, answered ${status}.`,
    extra,
  );
  const seconds = retryAfter === undefined || !/^\d+$/.test(retryAfter.trim()) ? undefined : Number(retryAfter);
  if (seconds !== undefined) problem.retryAfterSeconds = seconds;
  return problem;
}

/** Splits an SSE body into the events it carries (`data:` lines joined), as chunks arrive; comments are skipped. */
function sseEvents(onData: (data: string) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    for (;;) {
      const end = /\r?\n\r?\n/.exec(buffer);
      if (!end) return;
      const block = buffer.slice(0, end.index);
      buffer = buffer.slice(end.index + end[0].length);
      const data = block
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''));
      if (data.length > 0) onData(data.join('\n'));
    }
  };
}

/** The turn's error event (its problem document) as this node's own error. */
function failureOf(event: Extract<TurnEvent, { type: 'error' }>, owner: OwnerNode): ProblemError {
  return problemFrom(event.problem.status, event.problem, owner);
}

/**
 * Runs one turn of the session `name` on its owner through its event stream (POST /sessions/:name/chat/stream,
 * native events) and answers its result; each event is handed to `onEvent` as it comes (progress, and the
 * approvals and questions the turn waits for, which are answered on the owner's routes). The owner's refusals, and
 * the turn's error event, come back as problems; a stream that ends without the turn's end is the owner gone.
 * Aborting `signal` (the MCP caller went away) closes the request, which the owner treats as its own client going away.
 */
export function chatOnOwner(
  owner: OwnerNode,
  callerHeadersOf: Record<string, string>,
  name: string,
  input: Record<string, unknown>,
  signal: AbortSignal,
  onEvent: (event: TurnEvent) => void = () => undefined,
): Promise<TurnResult> {
  const url = new URL(`${owner.apiUrl}/sessions/${encodeURIComponent(name)}/chat/stream?events=native`);
  const payload = JSON.stringify(input);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<TurnResult>((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      signal,
      headers: {
        ...callerHeadersOf,
        ...owner.headers,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(payload),
        accept: 'text/event-stream',
      },
    });
    req.on('error', () => reject(unreachable(owner)));
    req.on('response', (res) => {
      res.on('error', () => reject(unreachable(owner)));
      const status = res.statusCode ?? 502;
      if (status !== 200) {
        // Refused before the turn started: a problem document, with the owner's Retry-After.
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            body = undefined;
          }
          reject(problemFrom(status, body, owner, res.headers['retry-after']));
        });
        return;
      }
      let ended = false;
      res.setEncoding('utf8');
      res.on(
        'data',
        sseEvents((data) => {
          if (ended) return;
          let event: TurnEvent;
          try {
            event = JSON.parse(data) as TurnEvent;
          } catch {
            return;
          }
          if (event.type === 'result') {
            ended = true;
            const { type: _type, ...result } = event;
            resolve(result);
          } else if (event.type === 'error') {
            ended = true;
            reject(failureOf(event, owner));
          } else onEvent(event);
        }),
      );
      res.on('end', () => {
        if (!ended) reject(unreachable(owner));
      });
    });
    req.end(payload);
  });
}
