// Test helper: the HTTP shell (every cross-cutting plugin) with the health and probe routes, over stand-ins for just what those routes read (store.ping/dialect, the CLI, engine.stats).
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { EngineStats } from '../../src/engine/engine.js';
import { API_PREFIX, buildShell, type BuildAppOptions, type ShellDeps } from '../../src/http/app.js';
import healthRoutes, { type HealthRoutesDeps } from '../../src/http/routes/health.js';
import probeRoutes from '../../src/http/routes/probes.js';
import { KeyService } from '../../src/security/keys-service.js';

export interface StubOptions {
  apiKeys?: string[];
  bodyLimitBytes?: number;
  dbOk?: boolean | 'hang' | 'throw';
  cliOk?: boolean;
  cliPath?: string;
}

/** The engine figures the stand-in engine reports (health shows them as they are). */
export const STUB_ENGINE_STATS: EngineStats = {
  live_processes: 1,
  busy_processes: 0,
  turns_running: 0,
  turns_waiting: 0,
  draining: false,
  spares: { target: 0, ready: 0, starting: 0, reason: null },
};

/** What the shell and the health routes are given in these tests. */
export type ShellTestDeps = ShellDeps & HealthRoutesDeps;

export function stubDeps(opts: StubOptions = {}): ShellTestDeps {
  const base = loadConfig({
    LOG_LEVEL: 'silent',
    RATE_LIMIT_REQUESTS: '0',
    DATA_DIR: '/tmp/cca-http-test',
    APPROVED_DIRECTORY: '/tmp/cca-http-test/ws',
  });
  const config: Config = {
    ...base,
    apiKeys: opts.apiKeys ?? [],
    bodyLimitBytes: opts.bodyLimitBytes ?? base.bodyLimitBytes,
    claude: { ...base.claude, cliPath: opts.cliPath },
  };
  const db = opts.dbOk ?? true;
  const cliOk = opts.cliOk ?? true;
  return {
    config,
    version: '0.1.0-test',
    warnings: ['a warning'],
    keys: new KeyService(config, undefined),
    store: {
      dialect: 'sqlite',
      ping: () =>
        db === 'hang'
          ? new Promise<boolean>(() => {})
          : db === 'throw'
            ? Promise.reject(new Error('db down'))
            : Promise.resolve(db),
    },
    cli: {
      path: '/x/claude',
      version: cliOk ? '2.1.330' : undefined,
      ok: cliOk,
      error: cliOk ? undefined : 'the CLI did not start',
      auth: 'api_key',
    },
    engine: { stats: () => STUB_ENGINE_STATS },
    sessions: { security: undefined },
  };
}

/** The shell with /api/v1/health and its probes, not yet ready: a test may add its own routes. */
export async function shellApp(opts: StubOptions = {}, build: BuildAppOptions = {}): Promise<FastifyInstance> {
  const deps = stubDeps(opts);
  const app = await buildShell(deps, build);
  await app.register(healthRoutes, { ...deps, prefix: API_PREFIX });
  await app.register(probeRoutes, { ...deps, prefix: API_PREFIX });
  return app;
}
