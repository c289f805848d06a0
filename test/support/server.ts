// Starts the whole service in-process against a scripted model, with scratch folders, for integration tests.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { makeCliEnv, type CliEnv } from './cli-env.js';
import { wallFallbackEnv } from './needs.js';

export interface TestServer {
  server: RunningServer;
  config: Config;
  url: string;
  cli: CliEnv;
  /** Folders that outlive a restart: data (database) and workspaces. */
  dirs: { root: string; data: string; workspaces: string };
  /** fetch against the server with the given API key (the first configured one by default). */
  request(path: string, init?: RequestInit & { key?: string | null; json?: unknown }): Promise<Response>;
  /** Stops the server (processes, database); folders stay until `cleanup`. */
  stop(): Promise<void>;
  /** Stops the server and starts a new one on the same folders and database. */
  restart(extraEnv?: Record<string, string>): Promise<void>;
  cleanup(): Promise<void>;
}

export const KEYS = ['test-key-alpha-0001', 'test-key-bravo-0002'] as const;

/**
 * `env` configures the server; `cliEnv` adds to the environment the server passes (filtered) to Claude Code, as if it
 * were the server's own process environment (test/integration/security-tools.test.ts puts fake secrets there).
 */
export async function startTestServer(
  modelUrl: string,
  env: Record<string, string> = {},
  opts: { cliEnv?: Record<string, string> } = {},
): Promise<TestServer> {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cc-api-it-')));
  const dirs = { root, data: join(root, 'data'), workspaces: join(root, 'workspaces') };
  const cli = makeCliEnv(modelUrl, opts.cliEnv);
  const fallback = await wallFallbackEnv();
  const settings = (extra: Record<string, string>) => ({
    ...fallback,
    PORT: '0',
    HOST: '127.0.0.1',
    API_KEYS: KEYS.join(','),
    DATA_DIR: dirs.data,
    APPROVED_DIRECTORY: dirs.workspaces,
    CLAUDE_CONFIG_DIR: cli.configDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // No rate limit unless a test sets one (test/http/plugins/rate-limit*.test.ts do).
    RATE_LIMIT_REQUESTS: '0',
    // No warm spare unless a test asks for one (test/integration/warm-spares.test.ts): fewer CLI processes at once.
    WARM_SPARES: '0',
    ...env,
    ...extra,
  });
  let config = loadConfig(settings({}));
  const start = () => startServer(config, { log: pino({ level: config.logLevel }), baseEnv: cli.env });
  let server = await start();
  let stopped = false;
  const t: TestServer = {
    get server() {
      return server;
    },
    get config() {
      return config;
    },
    get url() {
      return server.url;
    },
    cli,
    dirs,
    async request(path, init = {}) {
      const { key = KEYS[0], json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (key !== null) headers.set('x-api-key', key);
      let body = rest.body;
      if (json !== undefined) {
        headers.set('content-type', 'application/json');
        body = JSON.stringify(json);
      }
      return fetch(`${server.url}${path}`, { ...rest, headers, body });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
    },
    async restart(extraEnv = {}) {
      await t.stop();
      config = loadConfig(settings(extraEnv));
      server = await start();
      stopped = false;
    },
    async cleanup() {
      await t.stop();
      cli.cleanup();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return t;
}
