// Scratch HOME / CLAUDE_CONFIG_DIR and environment for running the real Claude Code CLI against a scripted model server.
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The Claude Code CLI binary bundled with the agent SDK. */
export const CLI_PATH = join(process.cwd(), 'node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/claude');

export interface CliEnv {
  /** Complete environment for the CLI (nothing is inherited from the test process but PATH). */
  env: Record<string, string>;
  /** Scratch folder holding home/ (HOME), home/.claude (CLAUDE_CONFIG_DIR) and work/ (a ready working directory). */
  dir: string;
  home: string;
  configDir: string;
  /** An empty folder to use as the CLI's working directory. */
  workDir: string;
  cleanup(): void;
}

export function makeCliEnv(modelUrl: string, extra: Record<string, string> = {}): CliEnv {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cc-api-cli-')));
  const home = join(dir, 'home');
  const configDir = join(home, '.claude');
  const workDir = join(dir, 'work');
  mkdirSync(configDir, { recursive: true });
  mkdirSync(workDir);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    CLAUDE_CONFIG_DIR: configDir,
    ANTHROPIC_BASE_URL: modelUrl,
    ANTHROPIC_API_KEY: 'test',
    // No telemetry, update checks, connectivity probes or session-title calls.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    // The CLI then names each request's class (main, subagent, auxiliary, compaction…) in a header the model server reads.
    CLAUDE_CODE_GATEWAY_HINT_HEADERS: '1',
    // One retry, so scripted API failures end the turn within a second or two.
    CLAUDE_CODE_MAX_RETRIES: '1',
    // We run as root: without this the CLI refuses bypassPermissions.
    IS_SANDBOX: '1',
    ...extra,
  };
  return { env, dir, home, configDir, workDir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
