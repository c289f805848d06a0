// Test helper: AppDeps with just what the HTTP shell touches (config, store.ping/dialect, cli, engine.stats), cast.
import { loadConfig, type Config } from '../../src/config/index.js';
import type { AppDeps } from '../../src/http/deps.js';

export interface StubOptions {
  apiKeys?: string[];
  bodyLimitBytes?: number;
  dbOk?: boolean | 'hang' | 'throw';
  cliOk?: boolean;
  cliPath?: string;
}

export function stubDeps(opts: StubOptions = {}): AppDeps {
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
  const store = {
    dialect: 'sqlite',
    ping: () =>
      db === 'hang'
        ? new Promise<boolean>(() => {})
        : db === 'throw'
          ? Promise.reject(new Error('db down'))
          : Promise.resolve(db),
  };
  const cliOk = opts.cliOk ?? true;
  const cli = {
    path: '/x/claude',
    version: cliOk ? '2.1.330' : undefined,
    ok: cliOk,
    error: cliOk ? undefined : 'the CLI did not start',
    auth: 'api_key',
  };
  const engine = {
    stats: () => ({ live_processes: 1, busy_processes: 0, turns_running: 0, turns_waiting: 0, draining: false }),
  };
  return {
    config,
    store,
    cli,
    engine,
    sessions: {},
    version: '0.1.0-test',
    warnings: ['a warning'],
  } as unknown as AppDeps;
}
