// Several nodes: an MCP chat turn on a session another node runs, run there through that node's REST chat route.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TurnResult } from '../engine/events.js';
import type { OwnerNode } from '../http/plugins/forward.js';
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

const unreachable = (owner: OwnerNode) =>
  Object.assign(
    new ProblemError(
      503,
      'owner-unavailable',
      'Session owner unavailable',
      `The node that runs this session (${owner.node}) does not answer; the session moves to another node when its lease lapses, retry then.`,
    ),
    { retryAfterSeconds: Math.max(1, Math.ceil(owner.ttlMs / 1000)) },
  );

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

/**
 * Runs one turn of the session `name` on its owner (POST /sessions/:name/chat, waiting through pauses for a person
 * as the MCP chat tool does) and answers its result; the owner's refusals come back as problems. Aborting `signal`
 * (the MCP caller went away) closes the request, which the owner treats as its own client going away.
 */
export function chatOnOwner(
  owner: OwnerNode,
  callerHeadersOf: Record<string, string>,
  name: string,
  input: Record<string, unknown>,
  signal: AbortSignal,
): Promise<TurnResult> {
  const url = new URL(`${owner.apiUrl}/sessions/${encodeURIComponent(name)}/chat`);
  const payload = JSON.stringify({ ...input, wait: true });
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
        accept: 'application/json',
      },
    });
    req.on('error', () => reject(unreachable(owner)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => reject(unreachable(owner)));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        const status = res.statusCode ?? 502;
        const data = (body as { data?: TurnResult & { cost?: number } } | undefined)?.data;
        if (status !== 200 || !data) {
          const retryAfter = status === 200 || status === 202 ? undefined : res.headers['retry-after'];
          reject(
            problemFrom(
              status === 200 || status === 202 ? 502 : status,
              status === 200 ? undefined : body,
              owner,
              retryAfter,
            ),
          );
          return;
        }
        const { cost: _cost, ...result } = data;
        resolve(result);
      });
    });
    req.end(payload);
  });
}
