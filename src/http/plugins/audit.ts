// Audit of requests: every POST/PUT/PATCH/DELETE that matched a route becomes a row; security events (refusals, admin acts) are written before their response.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { actionOf, outcomeOf, type AuditTrail } from '../../security/audit.js';
import type { NewAuditRow } from '../../store/schema.js';
import { PROBLEM_CONTENT_TYPE } from '../http-problem.js';
import { problemBody } from './problem-responses.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The audit action of this route (default: derived from method and URL), or false to keep it out of the trail. */
    audit?: string | false;
  }
}

export interface AuditPluginOptions {
  /** Undefined = nothing is written (tests of the HTTP shell without a database). */
  trail?: AuditTrail;
  apiPrefix: string;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const written = Symbol('audit.written');

function firstTwo(path: string): string {
  return path
    .split('/')
    .filter((p) => p !== '')
    .slice(0, 2)
    .join('/');
}

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** `sessions/<name>`-style resource: from the Location of a create, else the request path (without prefix and query). */
function resourceOf(request: FastifyRequest, reply: FastifyReply, prefix: string): string {
  const location = reply.getHeader('location');
  const raw =
    typeof location === 'string' && location.startsWith(prefix) ? location : (request.url.split('?')[0] ?? '');
  const path = raw.startsWith(prefix) ? raw.slice(prefix.length) : raw;
  return firstTwo(path).split('/').map(decoded).join('/');
}

/** Longest prompt kept in an audit row (what the Python seed's audit trail showed of a message). */
const AUDIT_MESSAGE_CHARS = 500;

/** What was said: the `message` of a chat or job request, cut to AUDIT_MESSAGE_CHARS; null for other requests. */
function saidIn(request: FastifyRequest): { message: string } | null {
  const body = request.body as { message?: unknown } | undefined;
  if (!body || typeof body !== 'object' || typeof body.message !== 'string') return null;
  const m = body.message;
  return { message: m.length > AUDIT_MESSAGE_CHARS ? `${m.slice(0, AUDIT_MESSAGE_CHARS)}...` : m };
}

function sessionOf(request: FastifyRequest, resource: string): string | null {
  const [type, name] = resource.split('/');
  if (type === 'sessions' && name) return name;
  const body = request.body as { session?: unknown } | undefined;
  return body && typeof body === 'object' && typeof body.session === 'string' ? body.session : null;
}

/** Refusals that are not written before their answer: a flood of them would be a flood of awaited writes. */
const FLOOD = '/problems/too-many-requests';

/**
 * A security event: an authentication or authorization refusal (401, 403), a budget refusal (429, not the rate
 * limit's own), an act of an admin route that changes something, or any request of an admin acting for another
 * tenant (X-Tenant).
 */
function isSecurityEvent(request: FastifyRequest, status: number, problem: string | undefined): boolean {
  if (status === 401 || status === 403 || (status === 429 && problem !== FLOOD)) return true;
  if (request.actingAsTenant) return true;
  return MUTATING.has(request.method) && request.routeOptions.config.admin === true;
}

/** The problem type of a refusal (`/problems/revoked-api-key` …), from the payload about to be sent. */
function problemTypeOf(reply: FastifyReply, payload: unknown): string | undefined {
  if (typeof payload !== 'string' || !String(reply.getHeader('content-type')).startsWith(PROBLEM_CONTENT_TYPE))
    return undefined;
  try {
    const type = (JSON.parse(payload) as { type?: unknown }).type;
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

const auditUnavailable = {
  type: '/problems/audit-unavailable',
  title: 'Audit trail unavailable',
  status: 503,
  detail: 'The audit row of this request could not be written, so its answer is withheld. Retry later.',
};

export default fp<AuditPluginOptions>(
  async (app, { trail, apiPrefix }) => {
    app.decorateRequest(written, false);

    if (!trail) return;

    /** The row of a request, or undefined when it gets none (not audited, or already written). */
    const rowOf = (request: FastifyRequest, reply: FastifyReply, security: boolean): NewAuditRow | undefined => {
      const r = request as FastifyRequest & { [written]: boolean };
      if (r[written] || (!security && !MUTATING.has(request.method))) return undefined;
      const { url: route, config } = request.routeOptions; // built anew at each access: read once
      const setting = config.audit;
      if (request.is404 || route === undefined || (setting === false && !security)) return undefined;
      r[written] = true;
      const bare = route.startsWith(apiPrefix) ? route.slice(apiPrefix.length) : route;
      const resource = resourceOf(request, reply, apiPrefix);
      const status = reply.statusCode;
      return {
        key_id: request.apiKey?.id ?? null,
        tenant: request.tenant || null,
        action: setting || actionOf(request.method, bare),
        resource,
        session: sessionOf(request, resource),
        status,
        outcome: outcomeOf(status),
        request_id: request.id,
        ip: request.ip,
        method: request.method,
        route,
        detail: saidIn(request),
      };
    };

    // Security events: written before the answer leaves; if the row cannot be written, neither can the answer.
    app.addHook('onSend', async (request, reply, payload) => {
      const problem = reply.statusCode >= 400 ? problemTypeOf(reply, payload) : undefined;
      if (!isSecurityEvent(request, reply.statusCode, problem)) return payload;
      const row = rowOf(request, reply, true);
      if (!row) return payload;
      try {
        await trail.write(problem ? { ...row, detail: { problem } } : row);
        return payload;
      } catch (err) {
        request.log.error({ err }, 'could not write the audit row of a security event; answering 503');
        reply.code(503).type(PROBLEM_CONTENT_TYPE).header('retry-after', '5');
        return problemBody(request, auditUnavailable);
      }
    });

    const later = (request: FastifyRequest, reply: FastifyReply) => {
      const row = rowOf(request, reply, false);
      if (row) void trail.record(row);
    };
    app.addHook('onRequest', (request, reply, done) => {
      // A stream whose client went away never "finishes": write its row when the connection closes.
      if (MUTATING.has(request.method)) reply.raw.once('close', () => later(request, reply));
      done();
    });
    app.addHook('onResponse', (request, reply, done) => {
      later(request, reply);
      done();
    });
  },
  { name: 'audit', fastify: '5.x' },
);
