// The set-up of a test file that starts the server itself (as a process, or with settings of its own): a scripted model server, a scratch Claude Code environment and a scratch folder, made before the file's tests and removed after them.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { makeCliEnv, type CliEnv } from './cli-env.js';
import { ModelServer } from './model-server.js';
import { serverProcessEnv } from './server-process.js';

export { serverProcessEnv };

export interface ProcessFixture {
  readonly model: ModelServer;
  readonly cli: CliEnv;
  /** The scratch folder (real path), named `<prefix>…`. */
  readonly dir: string;
  /**
   * The environment of `claude-code-api serve` run as a process (startServerProcess) against the model server: on
   * loopback, any port, acting with `key`, its data in `<dir>/data` and its workspaces in `<dir>/ws` (made here).
   */
  serverEnv(key: string, extra?: Record<string, string>, dir?: string): Record<string, string>;
}

export function useProcessFixture(prefix: string): ProcessFixture {
  let model: ModelServer | undefined;
  let cli: CliEnv | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    model = await ModelServer.start();
    cli = makeCliEnv(model.url);
    dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  });
  afterAll(async () => {
    await model?.close();
    cli?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the process fixture is made in beforeAll');
    return value;
  };
  return {
    get model() {
      return ready(model);
    },
    get cli() {
      return ready(cli);
    },
    get dir() {
      return ready(dir);
    },
    serverEnv(key, extra = {}, inDir = ready(dir)) {
      return serverProcessEnv(ready(cli), inDir, key, extra);
    },
  };
}
