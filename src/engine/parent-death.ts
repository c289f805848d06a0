// Claude Code processes that die with the server: on Linux they are started through `setpriv --pdeathsig SIGKILL`.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/**
 * Why: a CLI whose server was killed (SIGKILL, OOM killer) only notices its closed stdin between turns, so mid-turn it
 * runs on — calling the model, running tools, writing the transcript — while a restarted server resumes the same
 * session. With the parent-death signal the kernel kills it the moment the server dies. Where `setpriv` (util-linux
 * 2.33+) is missing, the processes are started as usual, and the next start of the server ends such leftovers
 * (src/engine/orphans.ts).
 */
let found: string | null | undefined;

export function setprivPath(): string | null {
  if (found !== undefined) return found;
  found = null;
  if (process.platform !== 'linux') return found;
  const dirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', ...(process.env.PATH ?? '').split(':').filter(Boolean)];
  for (const dir of new Set(dirs)) {
    const candidate = join(dir, 'setpriv');
    try {
      accessSync(candidate, constants.X_OK);
    } catch {
      continue;
    }
    const help = spawnSync(candidate, ['--help'], { encoding: 'utf8', timeout: 5000 });
    if (`${help.stdout}${help.stderr}`.includes('--pdeathsig')) found = candidate;
    break;
  }
  return found;
}

export type HostSpawn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/**
 * A spawn for the agent SDK's `hostSpawn` option (not in its public types: it replaces only the spawn call, the SDK
 * keeps its own stdio, stderr and exit handling): the same process, started through `setpriv --pdeathsig SIGKILL`.
 * Undefined where that is not available.
 */
export function spawnDyingWithParent(): HostSpawn | undefined {
  const setpriv = setprivPath();
  if (!setpriv) return undefined;
  return (command, args, options) => spawn(setpriv, ['--pdeathsig', 'SIGKILL', '--', command, ...args], options);
}
