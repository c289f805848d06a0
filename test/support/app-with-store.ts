// Test helper: the HTTP app over a real SQLite store (keys, audit) and the real services, driven by app.inject.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../src/config/index.js';
import { buildApp, type BuildAppOptions } from '../../src/http/app.js';
import { KeyService } from '../../src/security/keys-service.js';
import { RevocationWatch } from '../../src/security/revocations.js';
import { createStore, type Store } from '../../src/store/index.js';
import { realAppDeps } from './app-deps.js';

export const USER_KEY = 'user-key-0123456789';
export const OTHER_KEY = 'other-key-0123456789';
export const ADMIN_KEY = 'admin-key-0123456789';

export interface AppWithStore {
  app: FastifyInstance;
  store: Store;
  config: Config;
  keys: KeyService;
  /** A database file other stores (a CLI, a second instance) can open. */
  databaseUrl: string;
  close(): Promise<void>;
}

export async function appWithStore(
  env: Record<string, string> = {},
  opts: BuildAppOptions & { redis?: Redis; databaseUrl?: string } = {},
): Promise<AppWithStore> {
  const dir = mkdtempSync(join(tmpdir(), 'cca-sec-'));
  const databaseUrl = opts.databaseUrl ?? `sqlite:${join(dir, 'db.sqlite')}`;
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    DATA_DIR: join(dir, 'data'),
    APPROVED_DIRECTORY: join(dir, 'ws'),
    API_KEYS: `${USER_KEY},${OTHER_KEY}`,
    ADMIN_API_KEYS: ADMIN_KEY,
    RATE_LIMIT_REQUESTS: '0',
    DATABASE_URL: databaseUrl,
    ...env,
  });
  const store = await createStore(config.databaseUrl);
  await store.migrate();
  // As the server has it: revokes made elsewhere (the CLI, another instance) arrive through the watch.
  const revocations = new RevocationWatch(store.apiKeys, { intervalMs: config.revocationCheckMs });
  await revocations.start();
  const keys = new KeyService(config, store.apiKeys, { revocations });
  const { redis, databaseUrl: _url, ...buildOptions } = opts;
  const services = await realAppDeps(config, store, { keys, redis });
  const app = await buildApp(services.deps, { logger: false, ...buildOptions });
  await app.ready();
  return {
    app,
    store,
    config,
    keys,
    databaseUrl,
    async close() {
      await revocations.close();
      await app.close();
      await services.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
