// Claude Code processes left behind by a server of this DATA_DIR that died (SIGKILL, OOM): found through /proc and ended at start-up.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';

/**
 * Set in the environment of every Claude Code process: `<pid of the server that spawned it>:<hash of DATA_DIR>`.
 * A CLI keeps running its current turn after its server died (it only notices the closed stdin between turns), so
 * it could still write to the session's transcript and workspace while the restarted server resumes that session.
 */
export const OWNER_ENV = 'CLAUDE_CODE_API_OWNER';

const tagOf = (dataDir: string) => createHash('sha256').update(dataDir).digest('hex').slice(0, 16);

export function ownerMark(dataDir: string, pid = process.pid): string {
  return `${pid}:${tagOf(dataDir)}`;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // gone meanwhile, or not ours to read
  }
}

/** The parent pid from /proc/<pid>/stat (the command name may hold spaces and parentheses, so parse after the last ')'). */
function parentOf(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** Whether `ancestor` is `pid`'s parent, grandparent … */
function descendsFrom(pid: number, ancestor: number): boolean {
  let current: number | undefined = pid;
  for (let depth = 0; depth < 64 && current !== undefined && current > 1; depth++) {
    current = parentOf(current);
    if (current === ancestor) return true;
  }
  return false;
}

/**
 * Processes carrying this DATA_DIR's mark whose spawning server is no longer their ancestor: the CLIs of a server
 * that died, and the tool processes they started. Linux only (reads /proc); elsewhere none are found.
 */
export function findOrphans(dataDir: string): number[] {
  if (!existsSync('/proc/self/environ')) return [];
  const tag = tagOf(dataDir);
  const orphans: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const mark = read(`/proc/${name}/environ`)
      ?.split('\0')
      .find((v) => v.startsWith(`${OWNER_ENV}=`))
      ?.slice(OWNER_ENV.length + 1);
    if (!mark) continue;
    const [spawner, markTag] = mark.split(':');
    if (markTag !== tag) continue;
    if (!descendsFrom(pid, Number(spawner))) orphans.push(pid);
  }
  return orphans;
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && read(`/proc/${pid}/cmdline`) !== '';

async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50)); // polling /proc: there is no event for another process's exit
    left = left.filter(alive);
  }
  return left;
}

/** Ends (SIGTERM, then SIGKILL) the orphans of a dead server of this DATA_DIR; resolves once they are gone. */
export async function reapOrphans(dataDir: string, log: Logger): Promise<number[]> {
  const pids = findOrphans(dataDir);
  if (pids.length === 0) return [];
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const stubborn = await waitGone(pids, 3_000);
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  await waitGone(stubborn, 3_000);
  log.warn({ pids }, `ended ${pids.length} process(es) left behind by a server of this DATA_DIR that stopped abruptly`);
  return pids;
}
