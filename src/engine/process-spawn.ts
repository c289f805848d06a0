// How a session's Claude Code process is started: inside its wall (bubblewrap, limits, memory ceiling), or as a plain child that dies with the server.
import type { Options } from '@anthropic-ai/claude-agent-sdk';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { spawnDyingWithParent, type HostSpawn } from './parent-death.js';
import type { WallMemory } from './wall/memory.js';
import { walledSpawn, type WallLaunch } from './wall/spawn.js';

const HOST_SPAWN = spawnDyingWithParent() ?? spawn;

/** The wall a process starts in, and the memory ceiling that watches it. */
export interface WallPlan {
  launch: WallLaunch;
  memory: WallMemory;
}

export interface ProcessStart {
  /** SDK options that start the process. */
  options: Partial<Options>;
  /** Releases what the start holds (the workspace descriptor, the memory watch) once the process is gone or never started. */
  release(): void;
}

/**
 * The spawn options of one process. `stderr` gets its error output; `killed` is told when the wall is ended for
 * passing its memory limit; `spawned` gets the started process (setpriv, or bwrap, outside the wall) for the supervisor.
 */
export function processStart(
  wall: WallPlan | undefined,
  stderr: (text: string) => void,
  killed: (reason: string) => void,
  spawned: (child: ChildProcess) => void,
): ProcessStart {
  if (!wall) {
    // Dies with the server even when it is SIGKILLed (Linux, where setpriv is found; see parent-death.ts).
    const hostSpawn: HostSpawn = (command, args, options) => {
      const child = HOST_SPAWN(command, args, options);
      spawned(child);
      return child;
    };
    return { options: { stderr, ...({ hostSpawn } as Partial<Options>) }, release: () => undefined };
  }
  const walled = walledSpawn(wall.launch, stderr);
  let unwatch = () => {};
  return {
    options: {
      spawnClaudeCodeProcess: (opts) => {
        const proc = walled.spawn(opts);
        const child = walled.child!;
        spawned(child);
        if (child.pid !== undefined) {
          unwatch = wall.memory.watch(child.pid, (bytes) => {
            killed(
              `the session's processes used ${Math.round(bytes / 1024 / 1024)} MiB, past the wall's limit (WALL_MEMORY_MB)`,
            );
            child.kill('SIGKILL');
          });
        }
        child.once('exit', () => unwatch());
        return proc;
      },
    },
    release: () => {
      walled.release();
      unwatch();
    },
  };
}

/** Closes what a plan holds when no process is started from it (a live process took the turn). */
export function discardWall(wall: WallPlan | undefined): void {
  if (wall) closeSync(wall.launch.mounts.workspace.fd);
}
