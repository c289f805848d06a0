// GET /api/v1/health: 200 when the database and CLI are fine, 503 with the same body when either is not.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { shellApp, STUB_ENGINE_STATS, type StubOptions } from '../../support/shell-app.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function health(opts: StubOptions) {
  app = await shellApp(opts, { logger: false });
  return app.inject({ url: '/api/v1/health' });
}

describe('health', () => {
  it('is ok when everything is', async () => {
    const res = await health({ apiKeys: ['health-key-1'] });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.meta).toMatchObject({ request_id: res.headers['x-request-id'], version: 'v1' });
    expect(new Date(body.meta.timestamp).toISOString()).toBe(body.meta.timestamp);
    expect(body.data).toEqual({
      status: 'ok',
      version: '0.1.0-test',
      uptime_seconds: expect.any(Number),
      database: { ok: true, dialect: 'sqlite' },
      claude: { cli_ok: true, cli_version: '2.1.330', cli_path_source: 'bundled', auth: 'api_key' },
      engine: STUB_ENGINE_STATS,
      auth_mode: 'api_keys',
      sandbox: { enabled: false, available: false, reason: 'not configured', network: true },
      wall: {
        enabled: false,
        available: false,
        reason: 'not configured',
        unconfined_tenants: false,
        limits: { memory_mb: 0, max_processes: 0, max_file_mb: 0, enforced_by: 'none' },
      },
      node: {
        id: expect.any(String),
        role: 'all',
        url: expect.stringMatching(/^http:\/\//),
        cluster: false,
        leases_held: 0,
        live_sessions: 1,
        queue_depth: 0,
      },
      jobs: null, // this app has no jobs layer
      warnings: ['a warning'],
    });
  });

  it('is degraded (503, same shape) when the database is down', async () => {
    const res = await health({ dbOk: false });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json().data).toMatchObject({
      status: 'degraded',
      database: { ok: false, dialect: 'sqlite' },
      auth_mode: 'open',
    });
  });

  it('counts a throwing or hanging ping as down', async () => {
    expect((await health({ dbOk: 'throw' })).json().data.database.ok).toBe(false);
    await app?.close();
    const started = Date.now();
    const res = await health({ dbOk: 'hang' });
    expect(res.statusCode).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('is degraded when the CLI does not start, and tells where the CLI comes from', async () => {
    const res = await health({ cliOk: false, cliPath: '/opt/claude' });
    expect(res.statusCode).toBe(503);
    expect(res.json().data.claude).toEqual({
      cli_ok: false,
      cli_version: null,
      cli_path_source: 'CLAUDE_CLI_PATH',
      auth: 'api_key',
    });
  });
});
