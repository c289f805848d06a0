// Several nodes on one PostgreSQL and one Redis (CLUSTER_ENABLED): this node's record, its session leases, the shared turn events, and the token that marks a forwarded request.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { NodeSettings } from '../config/index.js';
import { SessionLeases, type LeaseOptions } from './leases.js';
import { NodeRegistry } from './nodes.js';
import { SharedEvents } from './events.js';

export { SessionLeases } from './leases.js';
export type { LeaseOwner, ClaimOutcome } from './leases.js';
export type { NodeRecord } from './nodes.js';
export { SharedEvents } from './events.js';

/** The request header that marks a request one node forwarded to another (its value: the cluster's hop token). */
export const HOP_HEADER = 'x-cluster-hop';

export interface Cluster {
  node: NodeSettings;
  leases: SessionLeases;
  nodes: NodeRegistry;
  events: SharedEvents;
  /** A secret every node of this Redis shares: a request carrying it in HOP_HEADER was forwarded by a node. */
  hopToken: string;
  close(): Promise<void>;
}

export interface ClusterOptions extends Pick<
  LeaseOptions,
  'inUse' | 'recordEpoch' | 'onFresh' | 'onLost' | 'onReleaseAsked'
> {
  redis: Redis;
  keyPrefix: string;
  node: NodeSettings;
  /** How long a session's events stay in Redis after its last turn (TURN_REPLAY_SECONDS), ms. */
  keepEventsMs: number;
  log: Logger;
  /**
   * false: this process serves no HTTP (MCP over stdio): it holds leases for the sessions it runs, but is not announced
   * as a node others could forward to (their requests for those sessions get 503 until it lets them go).
   */
  announce?: boolean;
}

/** Joins the cluster: announces this node and agrees on the hop token with the others. */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const { redis, keyPrefix, node, log } = opts;
  const tokenKey = `${keyPrefix}cluster:hop-token`;
  await redis.set(tokenKey, randomBytes(24).toString('hex'), 'NX');
  const hopToken = await redis.get(tokenKey);
  if (hopToken === null) throw new Error('Redis lost the cluster hop token just written');
  const nodes = new NodeRegistry(redis, keyPrefix, node, log, opts.announce !== false);
  await nodes.announce();
  const leases = new SessionLeases({
    redis,
    keyPrefix,
    nodeId: node.id,
    leaseMs: node.leaseMs,
    log,
    inUse: opts.inUse,
    recordEpoch: opts.recordEpoch,
    onFresh: opts.onFresh,
    onLost: opts.onLost,
    onReleaseAsked: opts.onReleaseAsked,
  });
  const events = new SharedEvents(redis, keyPrefix, opts.keepEventsMs, log);
  log.info({ node: node.id, role: node.role, url: node.url }, 'joined the cluster');
  return {
    node,
    leases,
    nodes,
    events,
    hopToken,
    close: async () => {
      await leases.close();
      await nodes.close();
    },
  };
}
