// What guards a turn: moderation and the key's budget before it is queued, and for its Claude Code process the workspace guard, the OS sandbox and a private temp folder.
import { closeSync } from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SandboxSettings, SettingSource } from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import {
  deniedReads,
  hiddenVariables,
  probeSandbox,
  sandboxSettings,
  SessionTmpDirs,
  type SandboxStatus,
  type ServerPaths,
} from '../engine/sandbox.js';
import type { AuthKind } from '../engine/cli-info.js';
import { SessionConfigDirs } from '../engine/config-dirs.js';
import type { WallPlan } from '../engine/process-spawn.js';
import { WorkspaceGuard } from '../engine/workspace-guard.js';
import { Wall } from '../engine/wall/index.js';
import { proxySocketDir, removeStaleProxySocketDirs } from '../engine/wall/stale-socket-dirs.js';
import { makeSpareFolder, SPARES_FOLDER } from '../workspace/adopt.js';
import { openBase } from '../workspace/anchor.js';
import { workspaceFd } from '../workspace/workspace-fd.js';
import { parseDatabaseUrl } from '../store/index.js';
import type { Dir } from '../workspace/anchor.js';
import { Budgets, type SpendBook } from './budgets.js';
import type { SharedHolds } from './shared-holds.js';
import { Moderation } from './moderation.js';

/** The parts of a session's process the policy sets. */
export interface ProcessPolicy {
  env: Record<string, string | undefined>;
  guard: WorkspaceGuard;
  /** false only when the test-only TEST_WORKSPACE_HOOK_OFF is set: the guard's hook is not installed. */
  hookOn: boolean;
  sandbox: SandboxSettings | undefined;
  /** The wall the process starts in; undefined where it cannot run. */
  wall: WallPlan | undefined;
  refuseShell: boolean;
  settingSources: SettingSource[];
}

/** A warm spare's process policy and folders (see engine/spares.ts). */
export interface SparePolicy {
  policy: ProcessPolicy;
  /** Its workspace folder `<APPROVED_DIRECTORY>/.spares/<id>`, its config and temporary folders. */
  workspace: string;
  configDir: string;
  tmpDir: string;
  /** Removes all of them and its proxy socket (an unclaimed spare). */
  discard: () => Promise<void>;
}

export class TurnSecurity {
  /** Temporary folders of warm spares that became sessions', by session: removed with the session. */
  private readonly adoptedTmp = new Map<string, string>();

  private constructor(
    readonly moderation: Moderation,
    readonly budgets: Budgets,
    readonly sandbox: SandboxStatus,
    readonly wall: Wall,
    private readonly tmpDirs: SessionTmpDirs,
    private readonly configDirs: SessionConfigDirs,
    private readonly denyRead: string[],
    private readonly config: Config,
  ) {}

  /**
   * Loads the moderation rules (throws RulesFileError on an invalid file), and probes the sandbox once: when it is
   * enabled but cannot start, Bash is refused in every session and the reason is logged (and shown by health).
   */
  static async start(opts: {
    config: Config;
    cliEnv: Record<string, string | undefined>;
    cliPath: string | undefined;
    /** The kind of credentials the CLI environment holds (the wall's proxy carries some kinds only). */
    auth: AuthKind;
    log: Logger;
    /** The spend ledger the key budgets read and settle into. */
    spend: SpendBook;
    /** Several nodes: running turns' budget holds kept in Redis, shared by every node. */
    sharedHolds?: SharedHolds;
  }): Promise<TurnSecurity> {
    const { config, cliEnv, log } = opts;
    const moderation = new Moderation({
      enabled: config.security.moderation.enabled,
      rulesPath: config.security.moderation.rulesPath,
      log,
    });
    moderation.watch();
    const budgets = new Budgets(
      { perRequestUsd: config.claude.maxCostPerRequest, perUserUsd: config.security.maxCostPerUser },
      opts.spend,
      opts.sharedHolds,
    );
    // Per node in a cluster: nodes on one machine (tests, a loopback cluster) must not clear each other's.
    const tmpDirs = new SessionTmpDirs(
      config.node.cluster ? join(config.dataDir, 'nodes', config.node.id) : config.dataDir,
    );
    // What processes of an earlier run of this server left there is of no use now.
    await tmpDirs.clear();
    const denyRead = deniedReads(serverPaths(config, cliEnv, tmpDirs.root), config.security.sandbox);
    const hide = hiddenVariables(cliEnv);
    const policy = config.security.sandbox;
    const sandbox = await probeSandbox({
      policy,
      cliPath: opts.cliPath,
      env: cliEnv,
      settings: (dir) => sandboxSettings(policy, { workingDir: dir, tmpDir: dir }, denyRead, hide),
    });
    if (sandbox.enabled && !sandbox.available)
      log.error(`The Bash sandbox cannot start here, so Bash is refused in every session: ${sandbox.reason}`);
    else if (!sandbox.enabled)
      log.warn(
        'SANDBOX_ENABLED=false: Bash runs without the OS sandbox and can read and write anything the server can.',
      );
    if (sandbox.available && policy.excludedCommands.length > 0) {
      log.warn(`SANDBOX_EXCLUDED_COMMANDS run outside the sandbox, unconfined: ${policy.excludedCommands.join(', ')}`);
    }
    const stale = await removeStaleProxySocketDirs(tmpDirs.root);
    if (stale.length > 0)
      log.info({ removed: stale }, 'removed model-proxy socket folders of servers no longer running');
    const wall = await Wall.start({
      settings: config.security.wall,
      cliPath: opts.cliPath,
      cliEnv,
      auth: opts.auth,
      // Per server process: an MCP stdio server on the same DATA_DIR clears the temp root at its start.
      socketDir: proxySocketDir(tmpDirs.root, process.pid),
      log,
    });
    if (wall.active) log.info('every session runs inside its own wall (bubblewrap)');
    else if (wall.status.enabled)
      log.error(`The wall cannot run here, sessions run with the Bash sandbox only: ${wall.status.reason}`);
    else log.warn('WALL_ENABLED=false: sessions run with the Bash sandbox only');
    if (config.security.workspaceHookOff)
      log.error('TEST_WORKSPACE_HOOK_OFF is set: the workspace hook is OFF (test only; never in a deployment)');
    const configDirs = new SessionConfigDirs(
      join(config.dataDir, 'session-config'),
      cliEnv.CLAUDE_CONFIG_DIR ?? config.claude.configDir ?? join(cliEnv.HOME ?? homedir(), '.claude'),
    );
    return new TurnSecurity(moderation, budgets, sandbox, wall, tmpDirs, configDirs, denyRead, config);
  }

  /** Start-up warnings for health. */
  warnings(): string[] {
    const out: string[] = [];
    const w = this.wall.status;
    if (w.enabled && !w.available)
      out.push(`The wall cannot run here, so sessions run with the Bash sandbox only: ${w.reason}.`);
    if (!w.enabled) out.push('WALL_ENABLED=false: sessions run with the Bash sandbox only.');
    if (this.config.security.workspaceHookOff)
      out.push('TEST_WORKSPACE_HOOK_OFF: the workspace hook is off (test only).');
    const s = this.sandbox;
    if (s.enabled && !s.available)
      out.push(
        `The Bash sandbox cannot start here, so Bash is refused: ${s.reason}. Install bubblewrap and socat (apt-get install bubblewrap socat).`,
      );
    if (!s.enabled) out.push('SANDBOX_ENABLED=false: Bash runs without the OS sandbox.');
    if (s.available && this.config.security.sandbox.excludedCommands.length > 0) {
      out.push(
        `SANDBOX_EXCLUDED_COMMANDS run outside the sandbox: ${this.config.security.sandbox.excludedCommands.join(', ')}.`,
      );
    }
    return out;
  }

  /** Refuses a message (422) that matches a moderation rule; `pointer` names the field. */
  moderate(text: string | undefined, pointer = '/message'): void {
    this.moderation.assert(text, pointer);
  }

  /**
   * The environment, hook, wall or sandbox of a session's Claude Code process. `resume` names the conversation it
   * continues (copied from the old shared config folder on its first resume).
   */
  async processPolicy(
    sessionId: string,
    workingDir: string,
    cliEnv: Record<string, string | undefined>,
    /** Opens the working directory by anchor, checked (SessionFolders.openWorkingDir): the guard's root on every call, and the wall's workspace. */
    openWorkingDir?: () => Promise<Dir>,
    /** The conversation the process resumes (copied from the old shared config folder on its first resume). */
    resume?: string,
  ): Promise<ProcessPolicy> {
    const tmpDir = await this.tmpDirs.ensure(sessionId);
    const walled = this.wall.active;
    const configDir = await this.configDirs.prepare(sessionId, { resume, linkLogin: !walled });
    // A conversation a warm spare began lies under the spare's folder path; the resuming process looks under its own.
    if (resume) await this.configDirs.moveToProject(sessionId, resume, workingDir);
    const base = {
      hookOn: !this.config.security.workspaceHookOff,
      settingSources: this.config.security.settingSources,
    };
    if (walled) {
      if (!openWorkingDir) throw new Error('a walled process needs its working directory opened by anchor');
      const fd = await workspaceFd(openWorkingDir);
      let plan;
      try {
        plan = await this.wall.launch({ id: sessionId, workspaceFd: fd, workingDir, configDir, tmpDir }, cliEnv);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      return {
        ...base,
        env: { ...plan.env, CLAUDE_CODE_DISABLE_AUTO_MEMORY: '1' },
        // Claude Code's Bash sandbox cannot nest in the wall's pid namespace: the wall itself confines Bash.
        guard: new WorkspaceGuard({ workingDir, openRoot: openWorkingDir, home: configDir, extraRoots: [tmpDir] }),
        sandbox: undefined,
        refuseShell: false,
        wall: { launch: plan.launch, memory: this.wall.memory },
      };
    }
    const s = this.sandbox;
    const refuseShell = s.enabled && !s.available;
    const guard = new WorkspaceGuard({
      workingDir,
      openRoot: openWorkingDir,
      home: cliEnv.HOME,
      extraRoots: [tmpDir],
      shellRefusal: refuseShell
        ? `Bash is not available on this server: its OS sandbox cannot start (${s.reason}).`
        : undefined,
    });
    const sandbox = s.available
      ? sandboxSettings(this.config.security.sandbox, { workingDir, tmpDir }, this.denyRead, hiddenVariables(cliEnv))
      : undefined;
    return {
      ...base,
      // Auto-memory would have the model write to the CLI's config dir (the guard refuses it).
      env: {
        ...cliEnv,
        CLAUDE_CONFIG_DIR: configDir,
        CLAUDE_CODE_TMPDIR: tmpDir,
        CLAUDE_CODE_DISABLE_AUTO_MEMORY: '1',
      },
      guard,
      sandbox,
      refuseShell,
      wall: undefined,
    };
  }

  /**
   * A warm spare's process inside its own wall, exactly as a new session's would be: its own empty workspace folder
   * (inside APPROVED_DIRECTORY, so it can be moved onto the session's workspace by one rename), its own config and
   * temporary folders, and its own proxy socket and token. Undefined where the wall cannot run (spares need it: the
   * folder a spare's wall binds keeps its inode when it moves, a plain process's working directory would not).
   */
  async spareProcess(spareId: string, cliEnv: Record<string, string | undefined>): Promise<SparePolicy | undefined> {
    if (!this.wall.active) return undefined;
    const workspace = await makeSpareFolder(this.config.approvedDirectory, spareId);
    const discard = async () => {
      await this.wall.forget(spareId);
      await this.tmpDirs.remove(spareId);
      await this.configDirs.remove(spareId);
      await rm(workspace, { recursive: true, force: true });
    };
    try {
      const policy = await this.processPolicy(spareId, workspace, cliEnv, () =>
        openBase(workspace, "the spare's workspace"),
      );
      return {
        policy,
        workspace,
        configDir: this.configDirs.pathOf(spareId),
        tmpDir: this.tmpDirs.pathOf(spareId),
        discard,
      };
    } catch (err) {
      await discard();
      throw err;
    }
  }

  /**
   * Removes what warm spares of an earlier run of this server left when it was killed (call before keeping spares,
   * in the serving process only: an MCP stdio process on the same DATA_DIR must not touch a running server's spares).
   */
  async removeSpareLeftovers(): Promise<void> {
    await removeSpareLeftovers(this.configDirs, this.config.approvedDirectory);
  }

  /** A warm spare's config folder and proxy socket become the session's; its temporary folder goes with the session. */
  async adoptSpare(spareId: string, sessionId: string): Promise<void> {
    await this.configDirs.adopt(spareId, sessionId);
    this.wall.adopt(spareId, sessionId);
    this.adoptedTmp.set(sessionId, this.tmpDirs.pathOf(spareId));
  }

  /** Removes what the session's processes left (its temp folder). */
  async forget(sessionId: string): Promise<void> {
    const spareTmp = this.adoptedTmp.get(sessionId);
    this.adoptedTmp.delete(sessionId);
    if (spareTmp) await rm(spareTmp, { recursive: true, force: true });
    await this.wall.forget(sessionId);
    await this.tmpDirs.remove(sessionId);
    await this.configDirs.remove(sessionId);
  }

  /** Stops watching the rules and removes the sessions' temporary folders (call once every process has ended). */
  async close(): Promise<void> {
    this.moderation.close();
    await this.wall.close();
    await this.tmpDirs.clear();
  }
}

/**
 * What warm spares of an earlier run of this server left when it was killed: their config folders in DATA_DIR, and
 * their workspace folders, which are empty while unclaimed (`rmdir`, so a folder with anything in it stays).
 */
async function removeSpareLeftovers(configDirs: SessionConfigDirs, approvedDirectory: string): Promise<void> {
  const names = await readdir(configDirs.root).catch(() => [] as string[]);
  for (const name of names.filter((n) => /^spare-[0-9a-f-]{36}$/.test(n))) {
    await configDirs.remove(name);
    await rmdir(join(approvedDirectory, SPARES_FOLDER, name)).catch(() => undefined);
  }
}

function serverPaths(config: Config, cliEnv: Record<string, string | undefined>, tmpRoot: string): ServerPaths {
  const target = parseDatabaseUrl(config.databaseUrl);
  const home = cliEnv.HOME ?? homedir();
  return {
    approvedDirectory: config.approvedDirectory,
    dataDir: config.dataDir,
    databaseFile: target.dialect === 'sqlite' && target.filename !== ':memory:' ? resolve(target.filename) : undefined,
    configDir: cliEnv.CLAUDE_CONFIG_DIR ?? config.claude.configDir,
    home,
    tmpRoot,
    envFile: join(process.cwd(), '.env'),
    credentialFiles: cliEnv.GOOGLE_APPLICATION_CREDENTIALS ? [resolve(cliEnv.GOOGLE_APPLICATION_CREDENTIALS)] : [],
  };
}
