// Audit of requests: every POST/PUT/PATCH/DELETE that matched a route becomes a row after its response.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { actionOf, outcomeOf, type AuditTrail } from '../../security/audit.js';

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

export default fp<AuditPluginOptions>(
  async (app, { trail, apiPrefix }) => {
    app.decorateRequest(written, false);

    if (!trail) return;

    const write = (request: FastifyRequest, reply: FastifyReply) => {
      const r = request as FastifyRequest & { [written]: boolean };
      if (!MUTATING.has(request.method) || r[written]) return;
      r[written] = true;
      const { url: route, config } = request.routeOptions; // built anew at each access: read once
      const setting = config.audit;
      if (request.is404 || route === undefined || setting === false) return;
      const bare = route.startsWith(apiPrefix) ? route.slice(apiPrefix.length) : route;
      const resource = resourceOf(request, reply, apiPrefix);
      const status = reply.statusCode;
      void trail.record({
        key_id: request.apiKey?.id ?? null,
        tenant: request.tenant || null,
        action: setting ?? actionOf(request.method, bare),
        resource,
        session: sessionOf(request, resource),
        status,
        outcome: outcomeOf(status),
        request_id: request.id,
        ip: request.ip,
        method: request.method,
        route,
        detail: saidIn(request),
      });
    };

    app.addHook('onRequest', (request, reply, done) => {
      // A stream whose client went away never "finishes": write its row when the connection closes.
      if (MUTATING.has(request.method)) reply.raw.once('close', () => write(request, reply));
      done();
    });
    app.addHook('onResponse', (request, reply, done) => {
      write(request, reply);
      done();
    });
  },
  { name: 'audit', fastify: '5.x' },
);
