// Starts a session's Claude Code process inside its wall: the SDK's spawnClaudeCodeProcess hook, through setpriv (dies with the server), prlimit (limits) and bwrap (namespaces, mounts).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { SpawnOptions, SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import { bwrapArgs, type WallMounts } from './mounts.js';

/** The child's descriptor number for the workspace folder (after stdin, stdout, stderr). */
const WORKSPACE_FD = 3;

export interface WallLimits {
  /** RLIMIT_NPROC; 0 = none. */
  maxProcesses: number;
  /** RLIMIT_FSIZE in bytes; 0 = none. */
  maxFileBytes: number;
}

export interface WallTools {
  bwrap: string;
  /** setpriv with --pdeathsig, when the host has it. */
  setpriv: string | null;
  /** prlimit, when the host has it and a limit is set. */
  prlimit: string | null;
}

export interface WallLaunch {
  tools: WallTools;
  limits: WallLimits;
  mounts: Omit<WallMounts, 'workspace'> & {
    /** The session's working directory, opened (by anchor) on the server: its descriptor and path. */
    workspace: { fd: number; path: string };
  };
}

/** The prlimit arguments of the limits set; empty when none is. */
function limitArgs(limits: WallLimits): string[] {
  const out: string[] = [];
  if (limits.maxProcesses > 0) out.push(`--nproc=${limits.maxProcesses}`);
  if (limits.maxFileBytes > 0) out.push(`--fsize=${limits.maxFileBytes}`);
  return out;
}

/** The full command line of a walled process: [program, ...args]. */
export function wallCommand(launch: WallLaunch, command: string, args: readonly string[]): string[] {
  const { tools } = launch;
  const limits = limitArgs(launch.limits);
  const inner = [
    tools.bwrap,
    ...bwrapArgs({ ...launch.mounts, workspace: { fd: WORKSPACE_FD, path: launch.mounts.workspace.path } }),
    '--',
    command,
    ...args,
  ];
  const limited = limits.length > 0 && tools.prlimit ? [tools.prlimit, ...limits, '--', ...inner] : inner;
  return tools.setpriv ? [tools.setpriv, '--pdeathsig', 'SIGKILL', '--', ...limited] : limited;
}

export interface WalledSpawn {
  /** For the SDK's `spawnClaudeCodeProcess`. Spawns once; the workspace descriptor is closed after it. */
  spawn: (opts: SpawnOptions) => SpawnedProcess;
  /** Closes the workspace descriptor if no process was started with it. */
  release(): void;
  /** The started process (bwrap, outside the wall), once there is one. */
  readonly child: ChildProcess | undefined;
}

/** A spawn hook for one process of a session; `stderr` gets what the CLI (and bwrap) write there. */
export function walledSpawn(launch: WallLaunch, stderr: (text: string) => void): WalledSpawn {
  let fd: number | undefined = launch.mounts.workspace.fd;
  let child: ChildProcess | undefined;
  const release = () => {
    if (fd === undefined) return;
    closeSync(fd);
    fd = undefined;
  };
  return {
    get child() {
      return child;
    },
    release,
    spawn(opts) {
      if (fd === undefined) throw new Error('the wall of this process was already used or released');
      const [program, ...args] = wallCommand(launch, opts.command, opts.args);
      try {
        child = spawn(program!, args, {
          env: opts.env,
          signal: opts.signal,
          stdio: ['pipe', 'pipe', 'pipe', fd],
        });
      } finally {
        release();
      }
      child.stderr?.setEncoding('utf8').on('data', stderr);
      return child as SpawnedProcess;
    },
  };
}
