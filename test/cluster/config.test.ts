// CLUSTER_ENABLED at start-up: refused without Redis or with SQLite, and the lease period read from SESSION_LEASE_SECONDS.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'cca-cluster-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const env = (over: Record<string, string>) => ({
  DATA_DIR: join(scratch, 'data'),
  APPROVED_DIRECTORY: join(scratch, 'ws'),
  ...over,
});
const PG = 'postgresql://root@127.0.0.1:5432/test';

describe('CLUSTER_ENABLED', () => {
  it('is off by default, with a 15 s lease', () => {
    const c = loadConfig(env({}));
    expect(c.node).toMatchObject({ cluster: false, leaseMs: 15_000, role: 'all' });
  });

  it('refuses SQLite: several nodes cannot share one database file', () => {
    expect(() => loadConfig(env({ CLUSTER_ENABLED: 'true', REDIS_URL: 'redis://127.0.0.1:6379' }))).toThrow(
      new ConfigError(
        'CLUSTER_ENABLED=true needs a PostgreSQL DATABASE_URL: several nodes cannot share one SQLite file (docs/scaling.md)',
      ),
    );
  });

  it('refuses to start without REDIS_URL', () => {
    expect(() => loadConfig(env({ CLUSTER_ENABLED: 'true', DATABASE_URL: PG }))).toThrow(/needs REDIS_URL/);
  });

  it('takes PostgreSQL, Redis and the lease period', () => {
    const c = loadConfig(
      env({
        CLUSTER_ENABLED: 'true',
        DATABASE_URL: PG,
        REDIS_URL: 'redis://127.0.0.1:6379',
        SESSION_LEASE_SECONDS: '4',
      }),
    );
    expect(c.node).toMatchObject({ cluster: true, leaseMs: 4000 });
  });

  it('refuses a lease period out of range', () => {
    expect(() => loadConfig(env({ SESSION_LEASE_SECONDS: '0' }))).toThrow(/SESSION_LEASE_SECONDS/);
  });
});
