// What the server knows about Claude Code itself: where the CLI is, its version, and which kind of auth it would use.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export type AuthKind =
  'api_key' | 'auth_token' | 'oauth_token' | 'bedrock' | 'vertex' | 'foundry' | 'subscription_login' | 'none';

export interface CliInfo {
  path: string | undefined;
  version: string | undefined;
  ok: boolean;
  error: string | undefined;
  auth: AuthKind;
}

/** The CLI binary bundled with the SDK for this platform, if installed. */
export function bundledCliPath(): string | undefined {
  const require = createRequire(import.meta.url);
  const names = [
    `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}`,
    `@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}-musl`,
  ];
  for (const name of names) {
    try {
      const file = join(
        dirname(require.resolve(`${name}/package.json`)),
        process.platform === 'win32' ? 'claude.exe' : 'claude',
      );
      if (existsSync(file)) return file;
    } catch {
      // not installed for this platform
    }
  }
  return undefined;
}

/** Which credentials the CLI would pick up from this environment, in the CLI's own order of preference. */
export function authKind(env: Record<string, string | undefined>, configDir: string | undefined): AuthKind {
  const set = (name: string) => !['', '0', 'false', 'no', 'off'].includes((env[name] ?? '').trim().toLowerCase());
  if (set('CLAUDE_CODE_USE_BEDROCK')) return 'bedrock';
  if (set('CLAUDE_CODE_USE_VERTEX')) return 'vertex';
  if (set('CLAUDE_CODE_USE_FOUNDRY')) return 'foundry';
  if (set('ANTHROPIC_API_KEY')) return 'api_key';
  if (set('ANTHROPIC_AUTH_TOKEN')) return 'auth_token';
  if (set('CLAUDE_CODE_OAUTH_TOKEN')) return 'oauth_token';
  const dir = configDir ?? env.CLAUDE_CONFIG_DIR ?? join(env.HOME ?? homedir(), '.claude');
  if (existsSync(join(dir, '.credentials.json'))) return 'subscription_login';
  return 'none';
}

/** Starts the CLI once with --version: proves it runs and tells its version. */
export function probeCli(
  path: string | undefined,
  env: Record<string, string | undefined>,
  configDir: string | undefined,
): Promise<CliInfo> {
  const auth = authKind(env, configDir);
  if (!path)
    return Promise.resolve({
      path,
      version: undefined,
      ok: false,
      error: 'no Claude Code CLI found (install dependencies or set CLAUDE_CLI_PATH)',
      auth,
    });
  return new Promise((resolve) => {
    execFile(path, ['--version'], { timeout: 20_000, env }, (err, stdout) => {
      if (err)
        resolve({
          path,
          version: undefined,
          ok: false,
          error: `the CLI did not start: ${err.message.split('\n')[0]}`,
          auth,
        });
      else resolve({ path, version: stdout.trim().split(/\s+/)[0], ok: true, error: undefined, auth });
    });
  });
}
