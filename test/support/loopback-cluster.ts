// A loopback cluster for tests: a scripted model, a throwaway PostgreSQL database, a Redis key prefix and one shared folder, the node processes started on them, and Redis writes that play another node; `close` removes it all.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../../src/store/redis.js';
import { makeCliEnv, type CliEnv } from './cli-env.js';
import { ModelServer } from './model-server.js';
import { REDIS_TEST_URL } from './needs.js';
import { createTempDatabase } from './postgres.js';
import { waitForNoCliProcesses } from './processes.js';
import { apiOf, serverProcessEnv, startServerProcess, type ServerProcess } from './server-process.js';

export interface ClusterNode {
  proc: ServerProcess;
  api: ReturnType<typeof apiOf>;
  id: string;
}

export interface LoopbackCluster {
  model: ModelServer;
  cli: CliEnv;
  /** The folder the nodes share (DATA_DIR and the workspaces under APPROVED_DIRECTORY). */
  dir: string;
  /** REDIS_KEY_PREFIX of this cluster. */
  prefix: string;
  /** The environment every node starts with (NODE_ID and `extra` added by startNode). */
  env: Record<string, string>;
  /** Starts a node process named `id`, acting with `key` in its `api`. */
  startNode(id: string, extra?: Record<string, string>): Promise<ClusterNode>;
  /** How many Claude Code processes the node runs (health's engine figures). */
  live(node: ClusterNode): Promise<number>;
  /** Runs `fn` while Redis says node `owner`, announced at `url` (or not at all), holds the session. */
  ownedBy(sessionId: string, owner: string, url: string | undefined, fn: () => Promise<void>): Promise<void>;
  /** The session's lease as Redis holds it (`<node>|<epoch>`), or null. */
  leaseOf(sessionId: string): Promise<string | null>;
  /** Stops the nodes still running, then removes the model server, database, Redis keys and folder. */
  close(): Promise<void>;
}

/** Starts the shared parts of a cluster named `name`; nodes act with `key` and start with `env` over the defaults. */
export async function startLoopbackCluster(
  name: string,
  key: string,
  env: Record<string, string> = {},
): Promise<LoopbackCluster> {
  const model = await ModelServer.start();
  const cli = makeCliEnv(model.url);
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `cc-api-${name}-`)));
  const db = await createTempDatabase(name.replace(/\W/g, '_'));
  const prefix = `cc-test-${randomBytes(4).toString('hex')}:`;
  const base = serverProcessEnv(cli, dir, key, {
    DATABASE_URL: db.url,
    REDIS_URL: REDIS_TEST_URL,
    REDIS_KEY_PREFIX: prefix,
    CLUSTER_ENABLED: 'true',
    MAX_LIVE_SESSIONS: '2',
    MAX_CONCURRENT_TURNS: '2',
    RATE_LIMIT_REQUESTS: '100000',
    ...env,
  });
  const started: ServerProcess[] = [];
  const withRedis = async <T>(fn: (redis: Awaited<ReturnType<typeof connectRedis>>) => Promise<T>): Promise<T> => {
    const redis = await connectRedis(REDIS_TEST_URL);
    try {
      return await fn(redis);
    } finally {
      redis.disconnect();
    }
  };
  return {
    model,
    cli,
    dir,
    prefix,
    env: base,
    async startNode(id, extra = {}) {
      const proc = await startServerProcess(dir, { ...base, NODE_ID: id, ...extra });
      started.push(proc);
      return { proc, api: apiOf(proc.url, key), id };
    },
    async live(node) {
      const health = (await (await node.api('/api/v1/health')).json()) as {
        data: { engine: { live_processes: number } };
      };
      return health.data.engine.live_processes;
    },
    ownedBy: (sessionId, owner, url, fn) =>
      withRedis(async (redis) => {
        try {
          if (url !== undefined)
            await redis.set(
              `${prefix}node:${owner}`,
              JSON.stringify({ id: owner, url, role: 'all', started_at: new Date().toISOString() }),
              'PX',
              60_000,
            );
          await redis.set(`${prefix}lease:${sessionId}`, `${owner}|1`, 'PX', 60_000);
          await fn();
        } finally {
          await redis.del(`${prefix}lease:${sessionId}`, `${prefix}node:${owner}`);
        }
      }),
    leaseOf: (sessionId) => withRedis((redis) => redis.get(`${prefix}lease:${sessionId}`)),
    async close() {
      for (const proc of started)
        if (proc.child.exitCode === null && proc.child.signalCode === null) {
          proc.child.kill('SIGTERM');
          await proc.exited;
        }
      await model.close();
      await waitForNoCliProcesses({ under: base.DATA_DIR! }, 20_000).catch(() => undefined);
      cli.cleanup();
      await db.drop();
      await withRedis(async (redis) => {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
