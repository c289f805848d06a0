// A live session's launch (SDK options, Claude session id, resume) for the real Claude Code CLI in a scratch environment: what the engine's unit tests start processes with.
import { randomUUID } from 'node:crypto';
import { prewarm } from '@anthropic-ai/claude-agent-sdk';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { optionsKey, resolveOptions, toSdkOptions, type SessionOptions } from '../../src/engine/options.js';
import { HookRelay } from '../../src/engine/hook-relay.js';
import { processStart, type WallPlan } from '../../src/engine/process-spawn.js';
import type { RunnerLaunch } from '../../src/engine/runner.js';
import { Spare } from '../../src/engine/spares.js';
import { CLI_PATH, type CliEnv } from './cli-env.js';

/** A logger that writes nothing (TEST_LOG_LEVEL shows the engine's lines). */
export const quietLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface LaunchOptions {
  /** The working directory (the environment's work folder by default). */
  cwd?: string;
  /** The session's options over the default settings. */
  session?: SessionOptions;
  /** The Claude session id to start (a new one by default) or, with `resume`, to resume. */
  claudeSessionId?: string;
  resume?: boolean;
  costBaseline?: number;
}

export function cliLaunch(cli: CliEnv, opts: LaunchOptions = {}): RunnerLaunch {
  const effective = resolveOptions(loadConfig({}).claude, [opts.session]);
  const cwd = opts.cwd ?? cli.workDir;
  return {
    options: toSdkOptions(effective, { cwd, cliPath: CLI_PATH, env: cli.env }),
    optionsKey: optionsKey(effective, cwd),
    claudeSessionId: opts.claudeSessionId ?? randomUUID(),
    resume: opts.resume ?? false,
    costBaseline: opts.costBaseline ?? 0,
  };
}

/**
 * A warm spare of the real CLI without a wall (prewarmed with a default session's options in the environment's work
 * folder), claimed in `claimCwd`: a folder that does not exist makes the CLI refuse the claim (cwd_not_found).
 */
export async function cliSpare(cli: CliEnv, claimCwd: string): Promise<Spare> {
  const effective = resolveOptions(loadConfig({}).claude, []);
  const options = toSdkOptions(effective, { cwd: cli.workDir, cliPath: CLI_PATH, env: cli.env });
  const spare = new Spare(`spare-${randomUUID()}`, { stderr: () => undefined, killed: () => undefined });
  const relay = new HookRelay();
  options.hooks = relay.wrap(options.hooks);
  spare.setup = {
    options,
    relay,
    profile: effective,
    wall: undefined as unknown as WallPlan, // unused: the process below starts without one
    workspace: claimCwd,
    configDir: cli.workDir,
    tmpDir: cli.workDir,
    discard: () => Promise.resolve(),
  };
  spare.start = processStart(undefined, spare.relay.stderr, spare.relay.killed, (child) => {
    child.setMaxListeners(32);
    spare.child = child;
  });
  spare.process = await prewarm({ options: { ...options, includePartialMessages: true, ...spare.start.options } });
  spare.state = 'taken';
  return spare;
}
