// Claude Code's OS sandbox for Bash: the settings of one session (writes in its folder, reads kept out of everyone else's), and the start-up probe that says whether it can run here.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { query, type SandboxSettings } from '@anthropic-ai/claude-agent-sdk';

export interface SandboxPolicy {
  /** SANDBOX_ENABLED */
  enabled: boolean;
  /** SANDBOX_ALLOW_NETWORK: sandboxed commands may reach any host (never loopback). */
  allowNetwork: boolean;
  /** SANDBOX_EXCLUDED_COMMANDS: commands that run outside the sandbox (each name also as `name *`). */
  excludedCommands: string[];
  /** SANDBOX_DENY_READ: more paths sandboxed commands may not read. */
  denyRead: string[];
}

/** What health and the engine know about the sandbox. */
export interface SandboxStatus {
  enabled: boolean;
  /** The sandbox starts here: Bash runs inside it. False with `enabled`: Bash is refused. */
  available: boolean;
  /** Why it is off or unavailable; null when it runs. */
  reason: string | null;
  network: boolean;
}

/** The server's own paths that no sandboxed command may read, whichever session runs it. */
export interface ServerPaths {
  approvedDirectory: string;
  dataDir: string;
  /** The SQLite database file, when there is one. */
  databaseFile?: string;
  /** CLAUDE_CONFIG_DIR, when set (else ~/.claude and ~/.claude.json of `home`). */
  configDir?: string;
  /** The CLI's HOME. */
  home?: string;
  /** The folder holding every session's CLI temporary folder. */
  tmpRoot: string;
  /** The server's `.env` file. */
  envFile?: string;
  /** GOOGLE_APPLICATION_CREDENTIALS and other credential files named by the CLI environment. */
  credentialFiles?: string[];
}

/** Credential folders and files of the server user's HOME. */
const HOME_SECRETS = [
  '.ssh',
  '.aws',
  '.azure',
  '.kube',
  '.docker',
  '.gnupg',
  '.config/gcloud',
  '.netrc',
  '.git-credentials',
  '.npmrc',
  '.pypirc',
  '.pgpass',
];

/** Variables the CLI needs but sandboxed commands must not see. */
const CREDENTIAL_VARS = [
  'ANTHROPIC_API_KEY',
  'ANTHROPIC_AUTH_TOKEN',
  'ANTHROPIC_FOUNDRY_API_KEY',
  'CLAUDE_CODE_OAUTH_TOKEN',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_BEARER_TOKEN_BEDROCK',
  'GOOGLE_APPLICATION_CREDENTIALS',
];
const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$/i;

/** Names of the CLI environment's variables that sandboxed commands do not get. */
export function hiddenVariables(env: Record<string, string | undefined>): string[] {
  const names = new Set(CREDENTIAL_VARS);
  for (const name of Object.keys(env)) if (SECRET_NAME.test(name)) names.add(name);
  return [...names].sort();
}

/** Paths no sandboxed command of any session may read. */
export function deniedReads(paths: ServerPaths, policy: Pick<SandboxPolicy, 'denyRead'>): string[] {
  const out = new Set<string>();
  const add = (p: string | undefined) => {
    if (p && p !== '/') out.add(resolve(p));
  };
  add(paths.approvedDirectory);
  add(paths.dataDir);
  if (paths.databaseFile) for (const suffix of ['', '-wal', '-shm', '-journal']) add(paths.databaseFile + suffix);
  if (paths.configDir) add(paths.configDir);
  if (paths.home) {
    if (!paths.configDir) {
      add(join(paths.home, '.claude'));
      add(join(paths.home, '.claude.json'));
    }
    for (const s of HOME_SECRETS) add(join(paths.home, s));
  }
  add(paths.tmpRoot);
  // The CLI's shared temporary folder (other Claude Code processes of this user, and the fallback of ours).
  if (typeof process.getuid === 'function')
    for (const t of new Set([tmpdir(), '/tmp'])) add(join(t, `claude-${process.getuid()}`));
  add(paths.envFile);
  for (const f of paths.credentialFiles ?? []) add(f);
  for (const p of policy.denyRead) add(p);
  return [...out];
}

/** The SDK `sandbox` option of one session's process. */
export function sandboxSettings(
  policy: SandboxPolicy,
  session: { workingDir: string; tmpDir: string },
  denyRead: string[],
  hideVars: string[],
): SandboxSettings {
  const excluded = policy.excludedCommands.flatMap((c) => (/[\s*:]/.test(c) ? [c] : [c, `${c} *`]));
  return {
    enabled: true,
    // Checked by the start-up probe: if it passed and the sandbox breaks later, the process fails rather than run Bash unconfined.
    failIfUnavailable: true,
    // The model's `dangerouslyDisableSandbox` is ignored: every command runs inside.
    allowUnsandboxedCommands: false,
    network: policy.allowNetwork ? { allowedDomains: ['*'] } : { allowedDomains: [], strictAllowlist: true },
    filesystem: { denyRead, allowRead: [session.workingDir, session.tmpDir] },
    credentials: { envVars: hideVars.map((name) => ({ name, mode: 'deny' as const })) },
    ...(excluded.length > 0 ? { excludedCommands: excluded } : {}),
  };
}

/**
 * The per-session temporary folders (CLAUDE_CODE_TMPDIR). They live under one short root: the sandbox needs the path
 * short (it puts sockets there; longer paths make it fall back to the shared /tmp/claude-<uid>), and the root is
 * denied to every sandboxed command but each session's own folder.
 */
export class SessionTmpDirs {
  readonly root: string;

  constructor(dataDir: string) {
    const base = tmpdir().length <= 12 ? tmpdir() : '/tmp';
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
    this.root = join(base, `cca${uid}-${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 6)}`);
  }

  pathOf(sessionId: string): string {
    return join(this.root, createHash('sha256').update(sessionId).digest('hex').slice(0, 10));
  }

  async ensure(sessionId: string): Promise<string> {
    const dir = this.pathOf(sessionId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async remove(sessionId: string): Promise<void> {
    await rm(this.pathOf(sessionId), { recursive: true, force: true });
  }

  /** Removes every session's folder (no process of this server may be running). */
  async clear(): Promise<void> {
    await rm(this.root, { recursive: true, force: true });
  }
}

function which(cmd: string, env: Record<string, string | undefined>): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** Runs a trivial command under bubblewrap with the namespaces the sandbox uses; the error says why it cannot. */
function probeBubblewrap(env: Record<string, string | undefined>): Promise<string | undefined> {
  const bwrap = which('bwrap', env);
  if (!bwrap) return Promise.resolve('bubblewrap (bwrap) is not installed (apt-get install bubblewrap socat)');
  if (!which('socat', env)) return Promise.resolve('socat is not installed (apt-get install bubblewrap socat)');
  const args = [
    '--new-session',
    '--die-with-parent',
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--unshare-pid',
    '--unshare-net',
    '--proc',
    '/proc',
    '--',
    'true',
  ];
  return new Promise((done) => {
    execFile(bwrap, args, { timeout: 10_000, env: { PATH: env.PATH ?? '/usr/bin:/bin' } }, (err, _out, stderr) => {
      done(
        err
          ? `bubblewrap cannot create its namespaces here: ${(stderr || err.message).trim().split('\n')[0]}`
          : undefined,
      );
    });
  });
}

/** Starts the CLI with the sandbox required and waits for its initialize answer (no model call); the error says why it refused. */
async function probeCliSandbox(
  cliPath: string,
  env: Record<string, string | undefined>,
  settings: (dir: string) => SandboxSettings,
  timeoutMs: number,
): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'cca-sandbox-probe-'));
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // eslint-disable-next-line require-yield -- an input that sends nothing: it holds the CLI open until released
  async function* idle(): AsyncGenerator<never> {
    await gate;
  }
  const q = query({
    prompt: idle(),
    options: {
      cwd: dir,
      env: { ...env, CLAUDE_CODE_TMPDIR: dir },
      pathToClaudeCodeExecutable: cliPath,
      tools: ['Bash'],
      sandbox: settings(dir),
      stderr: () => undefined,
    },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      q.initializationResult(),
      new Promise(
        (_, reject) =>
          (timer = setTimeout(
            () => reject(new Error(`Claude Code did not start within ${timeoutMs / 1000} s`)),
            timeoutMs,
          )),
      ),
    ]);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^Claude Code returned an error result: /, '').split('\n')[0];
  } finally {
    clearTimeout(timer);
    release();
    q.close();
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Probes that found the sandbox working, by CLI, PATH and policy: a process that starts several servers probes once. */
const working = new Map<string, Promise<SandboxStatus>>();

/** Whether Bash can run sandboxed here. Never throws: an unavailable sandbox is a status with a reason. */
export function probeSandbox(opts: Parameters<typeof probeOnce>[0]): Promise<SandboxStatus> {
  const key = JSON.stringify([opts.cliPath, opts.env.PATH, opts.policy]);
  const known = working.get(key);
  if (known) return known;
  const probe = probeOnce(opts);
  working.set(key, probe);
  void probe.then((s) => {
    if (!s.available) working.delete(key);
  });
  return probe;
}

async function probeOnce(opts: {
  policy: SandboxPolicy;
  cliPath: string | undefined;
  env: Record<string, string | undefined>;
  settings: (probeDir: string) => SandboxSettings;
  timeoutMs?: number;
}): Promise<SandboxStatus> {
  const { policy } = opts;
  if (!policy.enabled)
    return {
      enabled: false,
      available: false,
      reason: 'SANDBOX_ENABLED=false: Bash runs without the OS sandbox',
      network: true,
    };
  const network = policy.allowNetwork;
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    return { enabled: true, available: false, reason: `the sandbox does not support ${process.platform}`, network };
  }
  if (!opts.cliPath)
    return { enabled: true, available: false, reason: 'no Claude Code CLI to start the sandbox with', network };
  const [bwrap, cli] = await Promise.all([
    process.platform === 'linux' ? probeBubblewrap(opts.env) : Promise.resolve(undefined),
    probeCliSandbox(opts.cliPath, opts.env, opts.settings, opts.timeoutMs ?? 30_000),
  ]);
  const reason = bwrap ?? cli;
  return reason
    ? { enabled: true, available: false, reason, network }
    : { enabled: true, available: true, reason: null, network };
}
