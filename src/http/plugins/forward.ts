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
export function isForwarded(request: FastifyRequest | undefined, cluster: Cluster | undefined): boolean {
  const hop = request?.headers[HOP_HEADER];
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

/** The node that runs a session when it is not this one: where to send the session's turns, and how. */
export interface OwnerNode {
  node: string;
  /** The owner's base URL, and its REST API's (with the API prefix). */
  url: string;
  apiUrl: string;
  ttlMs: number;
  /** The headers that mark a request as forwarded by a node of this cluster (the hop token). */
  headers: Record<string, string>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Several nodes: the node to run a turn of this session on when another node runs it, or undefined to run it here
     * (this node then holds the session's lease). Throws the 503/409 problems of a forwarding loop, a gone owner, a
     * worker's session or Redis down. Set by the cluster-forward plugin. `request`: the request asking (undefined
     * for a caller that is not one, such as MCP over stdio in the same process).
     */
    sessionOwner?: (request: FastifyRequest | undefined, sessionId: string) => Promise<OwnerNode | undefined>;
  }
  interface FastifyContextConfig {
    /**
     * The route learns its session only in its handler (the compatible endpoints): before anything is sent, the
     * handler may throw SessionElsewhere, and the request is forwarded to that node as it came (body included).
     */
    forwardsToOwner?: boolean;
  }
}

/** Thrown by a `forwardsToOwner` route's handler, before it sent anything, for a session another node runs. */
export class SessionElsewhere extends Error {
  override name = 'SessionElsewhere';
  constructor(readonly owner: OwnerNode) {
    super(`The session runs on node ${owner.node}.`);
  }
}

const retryIn = (ms: number) => ({ 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) });

/** The node that runs the session does not answer (503, Retry-After: what is left of its lease). */
export const ownerGone = (node: string, ttlMs: number) =>
  new HttpProblem(
    503,
    `The node that runs this session (${node}) does not answer; the session moves to another node when its lease lapses.`,
    { slug: 'owner-unavailable', title: 'Session owner unavailable', headers: retryIn(ttlMs) },
  );

/** Redis (the leases, the node records) cannot be asked: no node may start or move the session meanwhile. */
const clusterUnavailable = () =>
  new HttpProblem(
    503,
    'This node cannot reach Redis, where the cluster records which node runs each session; retry shortly.',
    {
      slug: 'cluster-unavailable',
      title: 'Cluster state unavailable',
      headers: { 'Retry-After': '5' },
    },
  );

export default fp<ForwardOptions>(
  async (app, { cluster, sessions, apiPrefix }) => {
    // No time limit on the forwarded answer: a turn (or its event stream) lasts as long as it lasts.
    await app.register(replyFrom, { undici: { headersTimeout: 0, bodyTimeout: 0 }, disableRequestLogging: true });

    /**
     * The node to forward a request for the session to, or undefined to serve it here. `startsTurn`: the request
     * starts a turn, so a free session is claimed here first (of two nodes racing for it one runs it, the other
     * forwards); `replayOnly`: it only replays events, which this node can serve from Redis when the owner is gone.
     */
    const placement = async (
      request: FastifyRequest | undefined,
      sessionId: string,
      startsTurn: boolean,
      replayOnly: boolean,
    ): Promise<Target | undefined> => {
      const me = cluster.node.id;
      let owner = await cluster.leases.ownerOf(sessionId);
      if (!owner && startsTurn) {
        const claim = await cluster.leases.tryClaim(sessionId);
        if (claim.held) return undefined;
        owner = await cluster.leases.ownerOf(sessionId);
      }
      if (!owner || owner.node === me) return undefined;
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
        throw ownerGone(owner.node, owner.ttlMs);
      }
      if (node.role === 'worker')
        throw new HttpProblem(
          409,
          `A job runs this session on worker node ${node.id}; retry once it is done (the session's lease ends with it).`,
          { slug: 'session-on-worker', title: 'Session runs on a worker', headers: retryIn(owner.ttlMs) },
        );
      return { url: node.url, node: node.id, ttlMs: owner.ttlMs, replayOnly };
    };

    /** `placement`, with a failure to ask Redis as the 503 that says so. */
    const place = async (...args: Parameters<typeof placement>): Promise<Target | undefined> => {
      try {
        return await placement(...args);
      } catch (err) {
        if (err instanceof HttpProblem) throw err;
        (args[0] ?? app).log.error({ err }, 'could not look up the owner of a session in Redis');
        throw clusterUnavailable();
      }
    };

    /** The node to forward a session route to (its session named in the path), or undefined to serve it here. */
    const ownerOf = async (request: FastifyRequest, kind: Kind): Promise<Target | undefined> => {
      const { name } = request.params as { name: string };
      const row = await sessions.get(request.tenant, name).catch(() => undefined);
      if (!row) return undefined; // the route answers its own 404
      const startsTurn = kind === 'turn' && lastEventIdOf(request) === undefined;
      return place(request, row.id, startsTurn, kind === 'replay' || (kind === 'turn' && !startsTurn));
    };

    app.decorate('sessionOwner', async (request: FastifyRequest | undefined, sessionId: string) => {
      const target = await place(request, sessionId, true, false);
      if (!target) return undefined;
      return {
        node: target.node,
        url: target.url,
        apiUrl: `${target.url}${apiPrefix}`,
        ttlMs: target.ttlMs,
        headers: { [HOP_HEADER]: cluster.hopToken },
      };
    });

    /**
     * Streams the owner's answer through. An owner that does not answer (it just died) is a 503 with Retry-After,
     * except for a replay of events, which this node serves from Redis instead. `body`: what to send when the request's
     * body was parsed here already (sent as JSON).
     */
    const forward = (
      request: FastifyRequest,
      reply: FastifyReply,
      target: Target,
      serveHere: () => unknown,
      body?: unknown,
    ) =>
      reply.from(`${target.url}${request.url}`, {
        ...(body !== undefined && { body }),
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
          void reply.send(ownerGone(target.node, target.ttlMs));
        },
      });

    app.addHook('onRoute', (route) => {
      const handler = route.handler;
      if (route.config?.forwardsToOwner === true) {
        // The handler finds the session, and throws SessionElsewhere (before it sent anything) when another node runs it.
        const caught: RouteHandlerMethod = async function (this: typeof app, request, reply) {
          try {
            return await handler.call(this, request, reply);
          } catch (err) {
            if (!(err instanceof SessionElsewhere) || reply.sent) throw err;
            const { node, url, ttlMs } = err.owner;
            const target: Target = { node, url, ttlMs, replayOnly: false };
            return forward(request, reply, target, () => undefined, request.body ?? null);
          }
        };
        route.handler = caught;
        return;
      }
      if (!route.url.startsWith(apiPrefix)) return;
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const kind = methods.map((m) => ROUTES[`${m} ${route.url.slice(apiPrefix.length)}`]).find((k) => !!k);
      if (!kind) return;
      const wrapped: RouteHandlerMethod = async function (this: typeof app, request, reply) {
        const target = await ownerOf(request, kind);
        if (target === undefined) return handler.call(this, request, reply);
        return forward(request, reply, target, () => handler.call(this, request, reply));
      };
      route.handler = wrapped;
    });
  },
  { name: 'cluster-forward' },
);
