// The model-proxy socket folders of dead server processes are removed at start-up; a live server's folder stays.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { proxySocketDir, removeStaleProxySocketDirs } from '../../../src/engine/wall/stale-socket-dirs.js';

/** The pid of a process that has ended (waited for, so it is not a zombie and is gone). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid!;
  await new Promise((done) => child.once('exit', done));
  return pid;
}

describe('removeStaleProxySocketDirs', () => {
  let parent: string;
  let root: string;
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'cca-stale-'));
    root = join(parent, 'cca0-abcdef');
  });
  afterEach(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it("removes a dead server's folder with its sockets and keeps live ones and strangers", async () => {
    const dead = proxySocketDir(root, await deadPid());
    const mine = proxySocketDir(root, process.pid);
    const live = proxySocketDir(root, process.ppid);
    const other = `${root}-proxy-notapid`;
    const otherRoot = proxySocketDir(join(parent, 'cca0-fedcba'), await deadPid());
    for (const dir of [dead, mine, live, other, otherRoot]) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 's1.sock'), '');
    }

    const removed = await removeStaleProxySocketDirs(root);

    expect(removed).toEqual([dead]);
    expect(existsSync(dead)).toBe(false);
    for (const dir of [mine, live, other, otherRoot]) expect(existsSync(dir), dir).toBe(true);
  });

  it('does nothing when the parent folder is missing', async () => {
    expect(await removeStaleProxySocketDirs(join(parent, 'missing', 'root'))).toEqual([]);
  });
});
