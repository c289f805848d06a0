// Forwards a request for a session another node of the cluster runs to that node (@fastify/reply-from, streamed as it comes), or claims the session here.
import { timingSafeEqual } from 'node:crypto';
import replyFrom from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import fp from 'fastify-plugin';
import { HOP_HEADER, type Cluster } from '../../cluster/index.js';
import type { SessionService } from '../../sessions/service.js';
import { HttpProblem } from '../http-problem.js';
import { lastEventIdOf } from '../sse.js';

export interface ForwardOptions {
  cluster: Cluster;
  sessions: SessionService;
  apiPrefix: string;
}

/** What a session route does with the session's process: start a turn, replay events, or act on the running process. */
type Kind = 'turn' | 'replay' | 'process';

/** The routes whose work happens in the process of the session (method and path after the API prefix). */
const ROUTES: Record<string, Kind> = {
  'POST /sessions/:name/chat': 'turn',
  'POST /sessions/:name/chat/stream': 'turn',
  'GET /sessions/:name/chat/stream': 'replay',
  'POST /sessions/:name/interrupt': 'process',
  'POST /sessions/:name/repo': 'process',
  'DELETE /sessions/:name': 'process',
  'POST /sessions/:name/approvals/:id': 'process',
  'POST /sessions/:name/questions/:id': 'process',
};

/** Whether another node of this cluster forwarded the request (it carries the cluster's hop token). */
export function isForwarded(request: FastifyRequest, cluster: Cluster | undefined): boolean {
  const hop = request.headers[HOP_HEADER];
  if (cluster === undefined || typeof hop !== 'string') return false;
  const given = Buffer.from(hop);
  const token = Buffer.from(cluster.hopToken);
  return given.length === token.length && timingSafeEqual(given, token);
}

interface Target {
  url: string;
  node: string;
  /** How long the owner's lease still lasts unless renewed, ms. */
  ttlMs: number;
  /** The request only replays events (which Redis holds when the owner is gone). */
  replayOnly: boolean;
}

const retryIn = (ms: number) => ({ 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) });

export default fp<ForwardOptions>(
  async (app, { cluster, sessions, apiPrefix }) => {
    // No time limit on the forwarded answer: a turn (or its event stream) lasts as long as it lasts.
    await app.register(replyFrom, { undici: { headersTimeout: 0, bodyTimeout: 0 }, disableRequestLogging: true });

    /** The node to forward to, or undefined to serve the request here. */
    const ownerOf = async (request: FastifyRequest, kind: Kind): Promise<Target | undefined> => {
      const { name } = request.params as { name: string };
      const row = await sessions.get(request.tenant, name).catch(() => undefined);
      if (!row) return undefined; // the route answers its own 404
      const me = cluster.node.id;
      let owner = await cluster.leases.ownerOf(row.id);
      const startsTurn = kind === 'turn' && lastEventIdOf(request) === undefined;
      if (!owner && startsTurn) {
        // Claimed before the turn is queued, so of two nodes racing for a free session one runs it, the other forwards.
        const claim = await cluster.leases.tryClaim(row.id);
        if (claim.held) return undefined;
        owner = await cluster.leases.ownerOf(row.id);
      }
      if (!owner || owner.node === me) return undefined;
      const replayOnly = kind === 'replay' || (kind === 'turn' && !startsTurn);
      if (isForwarded(request, cluster))
        throw new HttpProblem(
          503,
          `Node ${me} was asked by another node to serve this session, but node ${owner.node} holds it: the nodes disagree on its owner. Retry.`,
          { slug: 'forwarding-loop', title: 'Forwarding loop', headers: retryIn(owner.ttlMs) },
        );
      const node = await cluster.nodes.get(owner.node);
      if (!node) {
        // The owner stopped announcing itself (it died): its turn's events can still be replayed from Redis here.
        if (replayOnly) return undefined;
        throw new HttpProblem(
          503,
          `The node that runs this session (${owner.node}) does not answer; the session moves to another node when its lease lapses.`,
          { slug: 'owner-unavailable', title: 'Session owner unavailable', headers: retryIn(owner.ttlMs) },
        );
      }
      if (node.role === 'worker')
        throw new HttpProblem(
          409,
          `A job runs this session on worker node ${node.id}; retry once it is done (the session's lease ends with it).`,
          { slug: 'session-on-worker', title: 'Session runs on a worker', headers: retryIn(owner.ttlMs) },
        );
      return { url: node.url, node: node.id, ttlMs: owner.ttlMs, replayOnly };
    };

    /**
     * Streams the owner's answer through. An owner that does not answer (it just died) is a 503 with Retry-After,
     * except for a replay of events, which this node serves from Redis instead.
     */
    const forward = (request: FastifyRequest, reply: FastifyReply, target: Target, serveHere: () => unknown) =>
      reply.from(`${target.url}${request.url}`, {
        rewriteRequestHeaders: (_req, headers) => {
          // This node keeps the Idempotency-Key's record; the owner must not hold a second one for the same key.
          const { 'idempotency-key': _key, ...rest } = headers;
          return { ...rest, [HOP_HEADER]: cluster.hopToken };
        },
        onError: (_reply, { error }) => {
          request.log.warn({ err: error, node: target.node }, 'could not forward a session request to its owner');
          if (target.replayOnly) {
            Promise.resolve(serveHere()).then(
              (value) => {
                if (value !== reply && !reply.sent) void reply.send(value);
              },
              (err: unknown) => void reply.send(err),
            );
            return;
          }
          void reply.send(
            new HttpProblem(
              503,
              `The node that runs this session (${target.node}) does not answer; the session moves to another node when its lease lapses.`,
              { slug: 'owner-unavailable', title: 'Session owner unavailable', headers: retryIn(target.ttlMs) },
            ),
          );
        },
      });

    app.addHook('onRoute', (route) => {
      if (!route.url.startsWith(apiPrefix)) return;
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const kind = methods.map((m) => ROUTES[`${m} ${route.url.slice(apiPrefix.length)}`]).find((k) => !!k);
      if (!kind) return;
      const handler = route.handler;
      const wrapped: RouteHandlerMethod = async function (this: typeof app, request, reply) {
        let target: Target | undefined;
        try {
          target = await ownerOf(request, kind);
        } catch (err) {
          if (err instanceof HttpProblem) throw err;
          // Redis (the leases, the node records) cannot be asked: no node may start or move the session meanwhile.
          request.log.error({ err }, 'could not look up the owner of a session in Redis');
          throw new HttpProblem(
            503,
            'This node cannot reach Redis, where the cluster records which node runs each session; retry shortly.',
            { slug: 'cluster-unavailable', title: 'Cluster state unavailable', headers: { 'Retry-After': '5' } },
          );
        }
        if (target === undefined) return handler.call(this, request, reply);
        return forward(request, reply, target, () => handler.call(this, request, reply));
      };
      route.handler = wrapped;
    });
  },
  { name: 'cluster-forward' },
);
