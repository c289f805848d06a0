// A live session's launch (SDK options, Claude session id, resume) for the real Claude Code CLI in a scratch environment: what the engine's unit tests start processes with.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { optionsKey, resolveOptions, toSdkOptions, type SessionOptions } from '../../src/engine/options.js';
import type { RunnerLaunch } from '../../src/engine/runner.js';
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
