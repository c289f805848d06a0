// Where the wall does not run: the server says why at start-up and in health, and refuses more than one tenant unless WALL_UNCONFINED_TENANTS is set.
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

  it('serves several tenants with WALL_UNCONFINED_TENANTS=true', async () => {
    const server = await start({
      API_KEYS: 'wall-off-key-0001,wall-off-key-0002',
      WALL_UNCONFINED_TENANTS: 'true',
    });
    try {
      const health = (await (await fetch(`${server.url}/api/v1/health`)).json()).data;
      expect(health.wall).toMatchObject({ available: false, unconfined_tenants: true });
    } finally {
      await server.close();
    }
  });
});
