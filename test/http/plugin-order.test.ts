// The order of the plugins is checked at boot, not held by comments: a plugin or route module registered before what it depends on stops the start with Fastify's dependency error.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { API_PREFIX, buildShell } from '../../src/http/app.js';
import authPlugin from '../../src/http/plugins/auth.js';
import idempotencyPlugin from '../../src/http/plugins/idempotency.js';
import healthRoutes from '../../src/http/routes/health.js';
import jobRoutes from '../../src/http/routes/jobs.js';
import { createStore } from '../../src/store/index.js';
import { shellApp, stubDeps } from '../support/shell-app.js';

const NOT_REGISTERED = 'FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED';

describe('plugin order', () => {
  it('refuses a route module on an app without the plugins every route relies on', async () => {
    const app = Fastify({ logger: false });
    await expect(app.register(healthRoutes, stubDeps())).rejects.toMatchObject({
      code: NOT_REGISTERED,
      message: expect.stringContaining("'request-id' of plugin 'health-routes'"),
    });
    await app.close();
  });

  it('refuses auth before the rate limit, and idempotency before auth', async () => {
    const { keys } = stubDeps();
    const first = Fastify({ logger: false });
    await expect(first.register(authPlugin, { keys })).rejects.toMatchObject({
      code: NOT_REGISTERED,
      message: expect.stringContaining("'rate-limit' of plugin 'auth'"),
    });
    await first.close();
    const store = await createStore('sqlite::memory:');
    const second = Fastify({ logger: false });
    await expect(
      second.register(idempotencyPlugin, { store, ttlMs: 1000, apiPrefix: API_PREFIX }),
    ).rejects.toMatchObject({
      code: NOT_REGISTERED,
      message: expect.stringContaining("'auth' of plugin 'idempotency'"),
    });
    await second.close();
    await store.close();
  });

  it('refuses the job routes on a shell without idempotency records', async () => {
    const deps = stubDeps();
    const app = await buildShell(deps, { logger: false });
    await expect(app.register(jobRoutes, { config: deps.config, prefix: API_PREFIX })).rejects.toMatchObject({
      code: NOT_REGISTERED,
      message: expect.stringContaining("'idempotency' of plugin 'job-routes'"),
    });
    await app.close();
  });

  it('boots the shell with the health routes, each after what it needs', async () => {
    const app = await shellApp({}, { logger: false });
    await app.ready();
    expect((await app.inject({ url: '/api/v1/health' })).statusCode).toBe(200);
    await app.close();
  });
});
