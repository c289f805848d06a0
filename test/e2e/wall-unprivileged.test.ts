// The wall as the Docker image runs it: the server as an unprivileged user (nobody), its sessions walled, and after a SIGKILL of the server no process of any session left, detached background commands included.
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useProcessFixture } from '../support/process-fixture.js';
import { ownedProcesses, waitForNoOwnedProcesses } from '../support/processes.js';
import { apiOf, startServerProcess } from '../support/server-process.js';
import { eventually } from '../support/wait.js';
import { needs } from '../support/needs.js';

const NOBODY = { uid: 65534, gid: 65534 };
const KEYS = ['unpriv-key-alpha-0001', 'unpriv-key-bravo-0002'];

/** Why the server cannot be run unprivileged here (undefined when it can); throws under CI. */
async function unprivilegedUnavailable(): Promise<string | undefined> {
  const reason =
    (await needs('the unprivileged wall test', 'wall')) ??
    (process.getuid?.() !== 0
      ? 'the tests do not run as root, so they cannot start the server as another user'
      : undefined);
  if (reason === undefined || !process.env.CI) return reason;
  throw new Error(`${reason}; CI requires the unprivileged wall test`);
}

function chownTree(path: string): void {
  chownSync(path, NOBODY.uid, NOBODY.gid);
  if (!statSync(path).isDirectory()) return;
  for (const name of readdirSync(path)) chownTree(join(path, name));
}

const skip = await unprivilegedUnavailable();
if (skip) console.warn(`skipping the unprivileged wall test: ${skip}`);

describe.skipIf(skip !== undefined)('the wall run by an unprivileged server', () => {
  const f = useProcessFixture('cc-api-unpriv-');

  it('walls its sessions as nobody, and a SIGKILL of the server leaves no process of them', async () => {
    const { model, cli, dir } = f;
    const data = join(dir, 'data');
    const workspaces = join(dir, 'ws');
    mkdirSync(join(dir, 'outside'));
    writeFileSync(join(dir, 'outside', 'secret.txt'), 'OUTSIDE-FILE-CONTENT\n');
    chownTree(dir);
    chownTree(cli.dir);
    const server = await startServerProcess(
      dir,
      {
        ...cli.env,
        CLAUDE_CONFIG_DIR: cli.configDir,
        API_KEYS: KEYS.join(','),
        PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: data,
        APPROVED_DIRECTORY: workspaces,
        LOG_LEVEL: 'info',
        NODE_ENV: 'test',
        TEST_WORKSPACE_HOOK_OFF: 'true',
      },
      ['serve'],
      NOBODY,
    );
    try {
      const api = apiOf(server.url, KEYS[0]!);
      const health = (await (await api('/api/v1/health')).json()).data;
      expect(health.wall).toMatchObject({ enabled: true, available: true, reason: null });
      expect((await api('/api/v1/sessions', { method: 'POST', json: { name: 'alpha' } })).status).toBe(201);
      model.script({
        match: 'unprivileged',
        steps: [
          {
            tool: {
              name: 'Bash',
              input: {
                command: `id -u; cat ${dir}/outside/secret.txt; setsid sleep 1005 > /dev/null 2>&1 & echo started`,
                description: 'look and detach',
              },
            },
          },
          { text: 'done' },
        ],
      });
      const res = await api('/api/v1/sessions/alpha/chat', { method: 'POST', json: { message: 'unprivileged' } });
      expect(res.status).toBe(200);
      const seen = JSON.stringify(model.mainRequests().at(-1)!.body.messages.at(-1));
      expect(seen).toContain('started');
      expect(seen).not.toContain('OUTSIDE-FILE-CONTENT');
      const sleeper = await eventually(
        () => ownedProcesses(data).find((p) => p.argv.join(' ') === 'sleep 1005'),
        20_000,
        'the detached sleep',
      );
      // Every process of the session runs as the server's unprivileged user.
      expect(readFileSync(`/proc/${sleeper.pid}/status`, 'utf8')).toMatch(/^Uid:\s+65534\s/m);
      server.child.kill('SIGKILL');
      await server.exited;
      await waitForNoOwnedProcesses(data, 20_000);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
