// The usual set-up of an integration test file: a scripted model server and the service against it, started before
// the file's tests and cleaned up after them.
import { afterAll, beforeAll } from 'vitest';
import { ModelServer } from './model-server.js';
import { startTestServer, type TestServer } from './server.js';

export interface ServerFixture {
  readonly model: ModelServer;
  readonly t: TestServer;
}

export function useTestServer(
  env: Record<string, string> = {},
  opts: Parameters<typeof startTestServer>[2] = {},
): ServerFixture {
  let model: ModelServer | undefined;
  let t: TestServer | undefined;
  beforeAll(async () => {
    model = await ModelServer.start();
    t = await startTestServer(model.url, env, opts);
  });
  afterAll(async () => {
    await t?.cleanup();
    await model?.close();
  });
  return {
    get model() {
      if (!model) throw new Error('the model server starts in beforeAll');
      return model;
    },
    get t() {
      if (!t) throw new Error('the test server starts in beforeAll');
      return t;
    },
  };
}
