// Warm spares and the server's end: a spare waiting for a session dies with a server that is SIGKILLed, and a fresh server starts its own again.
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCliEnv, type CliEnv } from '../support/cli-env.js';
import { ModelServer } from '../support/model-server.js';
import { needs } from '../support/needs.js';
import { cliProcesses, waitForNoCliProcesses } from '../support/processes.js';
import { apiOf, serverProcessEnv, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { eventually } from '../support/wait.js';

const skip = await needs('the warm spare fault tests', 'wall');

describe.skipIf(skip !== undefined)('warm spares and a killed server', () => {
  let model: ModelServer;
  let cli: CliEnv;
  let dir: string;
  beforeAll(async () => {
    model = await ModelServer.start();
    cli = makeCliEnv(model.url);
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cc-api-spares-')));
    mkdirSync(join(dir, 'ws'), { recursive: true });
  });
  afterAll(async () => {
    cli.cleanup();
    await model.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const readySpares = async (server: ServerProcess, key: string) =>
    eventually(
      async () => {
        const health = (await (await apiOf(server.url, key)('/api/v1/health')).json()).data;
        return health.engine.spares.ready === 1;
      },
      90_000,
      'a ready warm spare',
    );

  it('no spare outlives a SIGKILLed server', async () => {
    const key = 'spare-kill-key-12345678';
    const env = serverProcessEnv(cli, dir, key, { WARM_SPARES: '1' });
    const first = await startServerProcess(dir, env);
    await readySpares(first, key);
    expect(cliProcesses({ under: env.DATA_DIR })).toHaveLength(1);
    first.child.kill('SIGKILL');
    await first.exited;
    await waitForNoCliProcesses({ under: env.DATA_DIR }, 20_000);

    const leftovers = () =>
      readdirSync(join(dir, 'data', 'session-config')).filter((n) => n.startsWith('spare-')).length +
      readdirSync(join(dir, 'ws', '.spares')).length;
    expect(leftovers()).toBe(2); // the killed spare's config and workspace folders

    const second = await startServerProcess(dir, env);
    try {
      await readySpares(second, key);
      // The killed server's spare left nothing behind once the new server started: only its own spare's folders.
      expect(leftovers()).toBe(2);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      await waitForNoCliProcesses({ under: env.DATA_DIR }, 20_000);
    }
  });
});
