// Live Claude Code CLI processes, found by scanning /proc, so tests can check none is left behind.
import { readdirSync, readFileSync } from 'node:fs';
import { OWNER_ENV, ownerMark } from '../../src/engine/orphans.js';

const CLI_MARK = 'claude-agent-sdk-linux-x64/claude';

export interface CliProcess {
  pid: number;
  argv: string[];
  /** CLAUDE_CONFIG_DIR from the process environment, when readable. */
  configDir?: string;
}

export interface CliProcessFilter {
  /** Keep only processes whose environment has this CLAUDE_CONFIG_DIR. */
  configDir?: string;
  /** Keep only processes whose CLAUDE_CONFIG_DIR starts with this path (a server's DATA_DIR, where each session has its own). */
  under?: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process ended meanwhile, or is not ours to read
  }
}

export function cliProcesses(filter: CliProcessFilter = {}): CliProcess[] {
  const found: CliProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = read(`/proc/${name}/cmdline`); // empty for zombies, which are already dead
    // The CLI itself, not bubblewrap or setpriv, whose arguments name it too.
    if (!cmdline?.split('\0')[0]?.endsWith(CLI_MARK)) continue;
    const environ = read(`/proc/${name}/environ`) ?? '';
    const configDir = environ
      .split('\0')
      .find((v) => v.startsWith('CLAUDE_CONFIG_DIR='))
      ?.slice('CLAUDE_CONFIG_DIR='.length);
    if (filter.configDir !== undefined && configDir !== filter.configDir) continue;
    if (filter.under !== undefined && !configDir?.startsWith(filter.under)) continue;
    found.push({ pid: Number(name), argv: cmdline.split('\0').filter(Boolean), configDir });
  }
  return found;
}

/** Resolve once no matching CLI process is alive; reject with the survivors after `timeoutMs`. */
export async function waitForNoCliProcesses(filter: CliProcessFilter = {}, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = cliProcesses(filter);
    if (alive.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `Claude Code CLI processes still alive: ${alive.map((p) => `${p.pid} ${p.argv.join(' ')}`).join('; ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50)); // polling interval, not a stand-in for an event
  }
}

/** Every process started for a server of this DATA_DIR (the CLIs and whatever their tools started), by the owner mark each inherits. */
export function ownedProcesses(dataDir: string): CliProcess[] {
  const tag = ownerMark(dataDir).split(':')[1];
  const found: CliProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const environ = read(`/proc/${name}/environ`)?.split('\0') ?? [];
    const mark = environ.find((v) => v.startsWith(`${OWNER_ENV}=`));
    if (!mark?.endsWith(`:${tag}`)) continue;
    const cmdline = read(`/proc/${name}/cmdline`);
    if (!cmdline) continue; // a zombie: already dead
    const configDir = environ.find((v) => v.startsWith('CLAUDE_CONFIG_DIR='))?.slice('CLAUDE_CONFIG_DIR='.length);
    found.push({ pid: Number(name), argv: cmdline.split('\0').filter(Boolean), configDir });
  }
  return found;
}

/** Resolve once no process of this DATA_DIR's server is alive; reject with the survivors after `timeoutMs`. */
export async function waitForNoOwnedProcesses(dataDir: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = ownedProcesses(dataDir);
    if (alive.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`processes still alive: ${alive.map((p) => `${p.pid} ${p.argv.join(' ')}`).join('; ')}`);
    await new Promise((r) => setTimeout(r, 50)); // polling /proc: there is no event for another process's exit
  }
}
