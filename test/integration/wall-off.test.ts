// Where the wall does not run: the server says why at start-up and in health, and refuses more than one tenant (at start-up and
// through POST /keys) unless WALL_UNCONFINED_TENANTS is set.
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server.js';
import { useProcessFixture } from '../support/process-fixture.js';

describe('the wall switched off', () => {
  const f = useProcessFixture('cc-api-wall-off-');
  const start = (env: Record<string, string>) =>
    startServer(
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: join(f.dir, 'data'),
        APPROVED_DIRECTORY: join(f.dir, 'ws'),
        CLAUDE_CONFIG_DIR: f.cli.configDir,
        WALL_ENABLED: 'false',
        ...env,
      }),
      { log: pino({ level: 'silent' }), baseEnv: f.cli.env },
    );

  it('refuses to start with two tenants, naming the override', async () => {
    const err = await start({ API_KEYS: 'wall-off-key-0001,wall-off-key-0002' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('WALL_ENABLED=false');
    expect((err as Error).message).toContain('WALL_UNCONFINED_TENANTS=true');
  });

  it('serves one tenant, and says in health why its sessions are not walled', async () => {
    const server = await start({ API_KEYS: 'wall-off-key-0001' });
    try {
      const health = (await (await fetch(`${server.url}/api/v1/health`)).json()).data;
      expect(health.wall).toMatchObject({ enabled: false, available: false, reason: 'WALL_ENABLED=false' });
      expect(health.warnings).toContain('WALL_ENABLED=false: sessions run with the Bash sandbox only.');
    } finally {
      await server.close();
    }
  });

  const createKey = (url: string, admin: string, name: string) =>
    fetch(`${url}/api/v1/keys`, {
      method: 'POST',
      headers: { 'x-api-key': admin, 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });

  it('refuses a key that would add a second tenant while it runs, and creates nothing', async () => {
    const admin = 'wall-off-admin-0001';
    const server = await start({ ADMIN_API_KEYS: admin });
    try {
      // The first tenant is allowed, as one configured key would be.
      const first = await createKey(server.url, admin, 'first');
      expect(first.status).toBe(201);
      const second = await createKey(server.url, admin, 'second');
      expect(second.status).toBe(409);
      const problem = await second.json();
      expect(problem).toMatchObject({ type: '/problems/wall-unavailable', status: 409 });
      expect(problem.detail).toContain('WALL_ENABLED=false');
      expect(problem.detail).toContain('WALL_UNCONFINED_TENANTS=true');
      const list = await (await fetch(`${server.url}/api/v1/keys`, { headers: { 'x-api-key': admin } })).json();
      expect(list.data.map((k: { name: string }) => k.name)).not.toContain('second');
    } finally {
      await server.close();
    }
  });

  it('refuses a created key beside a configured tenant', async () => {
    const admin = 'wall-off-admin-0001';
    // A database of its own: the test above stored a key.
    const server = await start({
      ADMIN_API_KEYS: admin,
      API_KEYS: 'wall-off-key-0001',
      DATA_DIR: join(f.dir, 'data-configured'),
    });
    try {
      const res = await createKey(server.url, admin, 'another');
      expect(res.status).toBe(409);
      expect((await res.json()).type).toBe('/problems/wall-unavailable');
    } finally {
      await server.close();
    }
  });

  it('serves several tenants with WALL_UNCONFINED_TENANTS=true', async () => {
    const server = await start({
      API_KEYS: 'wall-off-key-0001,wall-off-key-0002',
      ADMIN_API_KEYS: 'wall-off-admin-0001',
      WALL_UNCONFINED_TENANTS: 'true',
      DATA_DIR: join(f.dir, 'data-unconfined'),
    });
    try {
      const health = (await (await fetch(`${server.url}/api/v1/health`)).json()).data;
      expect(health.wall).toMatchObject({ available: false, unconfined_tenants: true });
      const res = await createKey(server.url, 'wall-off-admin-0001', 'third');
      expect(res.status).toBe(201);
    } finally {
      await server.close();
    }
  });
});
