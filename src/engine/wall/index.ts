// The wall around every session's Claude Code process: whether it runs here (probed at start-up), and what one session's process gets to start inside it.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { WallSettings } from '../../config/index.js';
import type { AuthKind } from '../cli-info.js';
import { setprivPath } from '../parent-death.js';
import { hiddenVariables } from '../sandbox.js';
import { WallMemory } from './memory.js';
import { MODEL_SOCKET } from './mounts.js';
import { ModelProxy, upstreamOf } from './proxy.js';
import { wallCommand, type WallLaunch, type WallTools } from './spawn.js';

/** What health and the start-up log say about the wall. */
export interface WallStatus {
  enabled: boolean;
  /** Every session's process runs inside a wall. */
  available: boolean;
  /** Why it is off or cannot run; null when it runs. */
  reason: string | null;
  /** Several tenants are served without the wall (WALL_UNCONFINED_TENANTS). */
  unconfined_tenants: boolean;
  limits: { memory_mb: number; max_processes: number; max_file_mb: number; enforced_by: string };
}

/** Where each session's process starts: its folders, as the server made them. */
export interface WallSession {
  id: string;
  /** Descriptor of its working directory, opened by anchor (closed by the spawn, or by `release`). */
  workspaceFd: number;
  workingDir: string;
  configDir: string;
  tmpDir: string;
}

function which(cmd: string, path: string | undefined): string | null {
  for (const dir of [...(path ?? '').split(':'), '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return null;
}

/** Folders the CLI needs to run (bound read-only): its own, and node's when it is a script. */
function programDirs(cliPath: string): string[] {
  const real = realpathSync(cliPath);
  const dirs = [dirname(real)];
  if (/\.[cm]?js$/.test(real)) dirs.push(dirname(realpathSync(process.execPath)));
  return dirs.filter((d) => !/^\/(usr|bin|lib)(\/|$)/.test(d));
}

export class Wall {
  private constructor(
    readonly status: WallStatus,
    private readonly settings: WallSettings,
    private readonly tools: WallTools | undefined,
    private readonly proxy: ModelProxy | undefined,
    private readonly programs: string[],
    readonly memory: WallMemory,
  ) {}

  /** Whether sessions' processes start inside walls. */
  get active(): boolean {
    return this.status.available;
  }

  /** Probes bubblewrap with a wall like a session's; an unavailable wall is a status with a reason, never a throw. */
  static async start(opts: {
    settings: WallSettings;
    cliPath: string | undefined;
    cliEnv: Record<string, string | undefined>;
    auth: AuthKind;
    /** A private folder of the server for the proxy's sockets. */
    socketDir: string;
    log: Logger;
  }): Promise<Wall> {
    const { settings } = opts;
    const tools: WallTools = {
      bwrap: which('bwrap', opts.cliEnv.PATH) ?? '',
      setpriv: setprivPath(),
      prlimit: which('prlimit', opts.cliEnv.PATH),
    };
    const memory = new WallMemory(settings.memoryBytes);
    const status = (available: boolean, reason: string | null): WallStatus => ({
      enabled: settings.enabled,
      available,
      reason,
      unconfined_tenants: settings.unconfinedTenants,
      limits: {
        memory_mb: settings.memoryBytes / 1024 / 1024,
        max_processes: settings.maxProcesses,
        max_file_mb: settings.maxFileBytes / 1024 / 1024,
        enforced_by: tools.prlimit
          ? 'memory: resident memory of the wall summed every 2 s; processes and file size: rlimits (prlimit)'
          : 'memory: resident memory of the wall summed every 2 s; processes and file size: not enforced (prlimit is missing)',
      },
    });
    const off = (reason: string) => new Wall(status(false, reason), settings, undefined, undefined, [], memory);
    if (!settings.enabled) return off('WALL_ENABLED=false');
    if (process.platform !== 'linux') return off(`the wall needs Linux (bubblewrap); this is ${process.platform}`);
    if (!tools.bwrap) return off('bubblewrap (bwrap) is not installed (apt-get install bubblewrap)');
    if (!opts.cliPath || !existsSync(opts.cliPath)) return off('no Claude Code CLI to start inside the wall');
    const upstream = upstreamOf(opts.cliEnv, opts.auth);
    if (typeof upstream === 'string') return off(upstream);
    const programs = programDirs(opts.cliPath);
    const failure = await probe(tools, settings, programs);
    if (failure) return off(`bubblewrap cannot build the wall here: ${failure}`);
    const proxy = new ModelProxy(opts.socketDir, upstream, opts.log);
    return new Wall(status(true, null), settings, tools, proxy, programs, memory);
  }

  /**
   * The environment and spawn plan of a session's process inside its wall. The environment holds no credential:
   * the CLI talks to the model API through the session's proxy socket with a token good for that socket only.
   */
  async launch(
    session: WallSession,
    cliEnv: Record<string, string | undefined>,
  ): Promise<{ env: Record<string, string | undefined>; launch: WallLaunch }> {
    if (!this.tools || !this.proxy) throw new Error('the wall is not available here');
    const { socket, token } = await this.proxy.open(session.id);
    const hidden = new Set([...hiddenVariables(cliEnv), 'ANTHROPIC_CUSTOM_HEADERS']);
    const env: Record<string, string | undefined> = Object.fromEntries(
      Object.entries(cliEnv).filter(([name]) => !hidden.has(name)),
    );
    Object.assign(env, {
      // The request goes over the socket; the URL only names the host the CLI puts in its requests.
      ANTHROPIC_BASE_URL: 'http://localhost',
      ANTHROPIC_UNIX_SOCKET: MODEL_SOCKET,
      ANTHROPIC_API_KEY: token,
      CLAUDE_CONFIG_DIR: session.configDir,
      HOME: session.configDir,
      TMPDIR: session.tmpDir,
      CLAUDE_CODE_TMPDIR: session.tmpDir,
    });
    return {
      env,
      launch: {
        tools: this.tools,
        limits: this.settings,
        mounts: {
          programDirs: this.programs,
          workspace: { fd: session.workspaceFd, path: session.workingDir },
          configDir: session.configDir,
          tmpDir: session.tmpDir,
          socket,
        },
      },
    };
  }

  /** A warm spare's proxy socket and token become its session's (the spare's process keeps using them). */
  adopt(spareId: string, sessionId: string): void {
    this.proxy?.rename(spareId, sessionId);
  }

  /** Closes the session's proxy socket (its process has ended or the session is gone). */
  async forget(sessionId: string): Promise<void> {
    await this.proxy?.close(sessionId);
  }

  async close(): Promise<void> {
    this.memory.close();
    await this.proxy?.closeAll();
  }
}

/** Starts `true` in a wall built like a session's (every namespace, a descriptor bind, the limits); the error says why it cannot. */
async function probe(tools: WallTools, settings: WallSettings, programs: string[]): Promise<string | undefined> {
  const dir = await mkdtemp('/tmp/cca-wall-probe-');
  try {
    for (const d of ['work', 'config', 'tmp']) await mkdir(join(dir, d));
    await writeFile(join(dir, 'socket'), '');
    const work = await open(join(dir, 'work'), 'r');
    try {
      const launch: WallLaunch = {
        tools,
        limits: settings,
        mounts: {
          programDirs: programs,
          workspace: { fd: work.fd, path: join(dir, 'work') },
          configDir: join(dir, 'config'),
          tmpDir: join(dir, 'tmp'),
          socket: join(dir, 'socket'),
        },
      };
      const [program, ...args] = wallCommand(launch, '/usr/bin/true', []);
      return await new Promise<string | undefined>((done) => {
        const child = spawn(program!, args, {
          env: { PATH: '/usr/bin:/bin' },
          stdio: ['ignore', 'ignore', 'pipe', work.fd],
        });
        let stderr = '';
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.on('error', (err) => done(err.message));
        child.on('close', (code, signal) => {
          clearTimeout(timer);
          done(code === 0 ? undefined : stderr.trim().split('\n')[0] || `exit ${code ?? signal}`);
        });
      });
    } finally {
      await work.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
