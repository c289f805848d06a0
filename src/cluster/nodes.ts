// The node registry: each node announces its id, URL and role in Redis under a key that lapses unless it keeps renewing it.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { NodeSettings } from '../config/index.js';

export interface NodeRecord {
  id: string;
  url: string;
  role: NodeSettings['role'];
  started_at: string;
}

export class NodeRegistry {
  private readonly timer: NodeJS.Timeout;
  private me: NodeRecord;
  private readonly leaseMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    node: NodeSettings,
    private readonly log: Logger,
    /** false: never written (a process that serves no HTTP); `get` still reads the others. */
    private readonly visible = true,
  ) {
    this.me = { id: node.id, url: node.url, role: node.role, started_at: new Date().toISOString() };
    this.leaseMs = node.leaseMs;
    this.timer = setInterval(() => void this.announce(), Math.max(100, Math.floor(node.leaseMs / 3)));
    this.timer.unref();
  }

  private key(id: string): string {
    return `${this.keyPrefix}node:${id}`;
  }

  /** Writes this node's record for one lease period (SESSION_LEASE_SECONDS); renewed every third of it until closed. */
  async announce(): Promise<void> {
    if (!this.visible) return;
    try {
      await this.redis.set(this.key(this.me.id), JSON.stringify(this.me), 'PX', this.leaseMs);
    } catch (err) {
      this.log.warn({ err }, 'could not announce this node in Redis; retrying');
    }
  }

  /** This node's URL once it listens, when NODE_URL was left to the default with PORT=0 (a port picked at start). */
  async listening(address: string): Promise<void> {
    if (new URL(this.me.url).port !== '0') return;
    this.me = { ...this.me, url: address };
    await this.announce();
  }

  /** This node's record as the others read it. */
  get self(): NodeRecord {
    return this.me;
  }

  /** A node that announced itself within its last lease period. */
  async get(id: string): Promise<NodeRecord | undefined> {
    const raw = await this.redis.get(this.key(id));
    return raw === null ? undefined : (JSON.parse(raw) as NodeRecord);
  }

  /** Stops announcing and removes this node's record. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.visible) await this.redis.del(this.key(this.me.id)).catch(() => undefined);
  }
}
