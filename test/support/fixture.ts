// The set-up of an integration test file: one scripted model server for the file, and services against it (one started before the file's tests, or several started by the tests), all cleaned up after them.
import { afterAll, beforeAll } from 'vitest';
import { apiClient, type ApiClient } from './api/client.js';
import { ModelServer } from './model-server.js';
import { startTestServer, type TestServer } from './server.js';

type ServerOptions = Parameters<typeof startTestServer>[2];

export interface ModelFixture {
  readonly model: ModelServer;
  /** Starts a service against the file's model server; it is cleaned up after the file's tests, if not before. */
  server(env?: Record<string, string>, opts?: ServerOptions): Promise<TestServer>;
  /**
   * Cleans up every service started so far, newest first (`beforeCleanup` runs on each once it has stopped: e.g. to
   * wait until its processes are gone). For an `afterEach` of a file whose tests start their own services.
   */
  cleanupServers(beforeCleanup?: (t: TestServer) => Promise<void>): Promise<void>;
}

/** A model server for the file; the tests start services against it with `server(env)`. */
export function useModelServer(): ModelFixture {
  let model: ModelServer | undefined;
  const servers: TestServer[] = [];
  const fixture: ModelFixture = {
    get model() {
      if (!model) throw new Error('the model server starts in beforeAll');
      return model;
    },
    async server(env = {}, opts = {}) {
      const t = await startTestServer(fixture.model.url, env, opts);
      servers.push(t);
      return t;
    },
    async cleanupServers(beforeCleanup) {
      for (const t of servers.splice(0).reverse()) {
        await t.stop();
        await beforeCleanup?.(t);
        await t.cleanup();
      }
    },
  };
  beforeAll(async () => {
    model = await ModelServer.start();
  });
  afterAll(async () => {
    await fixture.cleanupServers();
    await model?.close();
  });
  return fixture;
}

export interface ServerFixture extends ModelFixture {
  /** The service started before the file's tests. */
  readonly t: TestServer;
  /** The typed API client of that service, acting with the first configured key. */
  readonly api: ApiClient;
}

/** A model server and a service against it with `env`, started before the file's tests; `server(env)` starts more. */
export function useTestServer(env: Record<string, string> = {}, opts: ServerOptions = {}): ServerFixture {
  const base = useModelServer();
  let t: TestServer | undefined;
  beforeAll(async () => {
    t = await base.server(env, opts);
  });
  return {
    get model() {
      return base.model;
    },
    server: (more, moreOpts) => base.server(more, moreOpts),
    cleanupServers: (beforeCleanup) => base.cleanupServers(beforeCleanup),
    get t() {
      if (!t) throw new Error('the test server starts in beforeAll');
      return t;
    },
    get api() {
      return apiClient(this.t);
    },
  };
}
