// Finding and ending processes left by a dead server of the same DATA_DIR, and only those (real child processes, /proc).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { findOrphans, OWNER_ENV, ownerMark, reapOrphans } from '../../src/engine/orphans.js';
import { eventually } from '../support/wait.js';

const children: ChildProcess[] = [];
const log = pino({ level: 'silent' });

afterEach(() => {
  for (const c of children.splice(0)) {
    try {
      process.kill(-c.pid!, 'SIGKILL'); // the whole group: a shell's child too
    } catch {
      // already gone
    }
  }
});

/** A long sleep whose environment carries the given owner mark (through a shell when `nested`, as a tool process would). */
function sleeper(mark: string, nested = false): ChildProcess {
  const options = { env: { PATH: process.env.PATH, [OWNER_ENV]: mark }, stdio: 'ignore' as const, detached: true };
  const child = nested ? spawn('sh', ['-c', 'sleep 60 & wait'], options) : spawn('sleep', ['60'], options);
  children.push(child);
  return child;
}

/** Pids whose parent is `pid` (from /proc/<pid>/stat). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const DATA_DIR = `/tmp/cca-orphans-${process.pid}`;
const exited = (c: ChildProcess) =>
  new Promise<void>((resolve) =>
    c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
  );

describe.skipIf(!existsSync('/proc/self/environ'))('orphaned Claude Code processes', () => {
  it('marks processes with the spawning server and a hash of DATA_DIR', () => {
    expect(ownerMark('/data', 1234)).toMatch(/^1234:[0-9a-f]{16}$/);
    expect(ownerMark('/data', 1)).not.toBe(ownerMark('/other', 1));
  });

  it('finds the processes of a server that is gone, not those of a live one or of another DATA_DIR', async () => {
    const dead = sleeper(ownerMark(DATA_DIR, 2 ** 22 + 7)); // a spawner pid that is not its ancestor: its server died
    const live = sleeper(ownerMark(DATA_DIR)); // spawned by this process, which is alive
    const liveTool = sleeper(ownerMark(DATA_DIR), true); // a tool process under a live session
    const elsewhere = sleeper(ownerMark('/somewhere/else', 2 ** 22 + 7));
    const [tool] = await eventually(
      () => (childrenOf(liveTool.pid!).length > 0 ? childrenOf(liveTool.pid!) : undefined),
      5_000,
      'the shell to start its child',
    );
    const found = findOrphans(DATA_DIR);
    expect(found).not.toContain(tool);
    expect(found).toContain(dead.pid);
    expect(found).not.toContain(live.pid);
    expect(found).not.toContain(liveTool.pid);
    expect(found).not.toContain(elsewhere.pid);

    expect(await reapOrphans(DATA_DIR, log)).toEqual(found);
    await exited(dead);
    expect(dead.signalCode).toBe('SIGTERM');
    expect(live.exitCode ?? live.signalCode).toBeNull();
    expect(elsewhere.exitCode ?? elsewhere.signalCode).toBeNull();
    expect(findOrphans(DATA_DIR)).toEqual([]);
  });

  it('finds nothing when there is nothing to find', async () => {
    expect(await reapOrphans(`${DATA_DIR}-empty`, log)).toEqual([]);
  });
});
