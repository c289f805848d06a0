// Live Claude Code CLI processes, found by scanning /proc, so tests can check none is left behind.
import { readdirSync, readFileSync } from 'node:fs';

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
    if (!cmdline?.includes(CLI_MARK)) continue;
    const environ = read(`/proc/${name}/environ`) ?? '';
    const configDir = environ
      .split('\0')
      .find((v) => v.startsWith('CLAUDE_CONFIG_DIR='))
      ?.slice('CLAUDE_CONFIG_DIR='.length);
    if (filter.configDir !== undefined && configDir !== filter.configDir) continue;
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
