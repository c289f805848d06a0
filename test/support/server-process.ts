// Runs `claude-code-api serve` as a real child process (as a user would), for tests that signal or kill the server.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CliEnv } from './cli-env.js';
import { wallFallbackEnv } from './needs.js';

const CLI = join(process.cwd(), 'src/cli.ts');
const TSX = import.meta.resolve('tsx');

export interface ServerProcess {
  child: ChildProcess;
  /** http://host:port the server said it listens on. */
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * Starts the server in `cwd` with exactly `env` (and WARM_SPARES=0 unless it is set) and resolves once it logs the address it listens on. `user`: run it
 * as that uid/gid (the test runs as root), as the Docker image runs it as `app`.
 */
export async function startServerProcess(
  cwd: string,
  env: Record<string, string>,
  args: string[] = ['serve'],
  user?: { uid: number; gid: number },
): Promise<ServerProcess> {
  const fallback = await wallFallbackEnv();
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd,
    // No warm spare unless `env` asks for one (WARM_SPARES): fewer CLI processes, and the counts tests expect.
    env: { ...fallback, WARM_SPARES: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...user,
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/[^"\s]+)/.exec(out);
      if (m) resolve({ child, url: m[1]!, output: () => out, exited });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${out}`)));
  });
}

/** fetch against a server process with an API key and optional JSON body. */
export function apiOf(url: string, key: string) {
  return (path: string, init: RequestInit & { json?: unknown } = {}) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: {
        'x-api-key': key,
        ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
      body: init.json !== undefined ? JSON.stringify(init.json) : init.body,
    });
}

/** The environment of a server process on `dir` whose Claude Code runs in `cli`'s environment (see ProcessFixture.serverEnv). */
export function serverProcessEnv(
  cli: CliEnv,
  dir: string,
  key: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  mkdirSync(join(dir, 'ws'), { recursive: true });
  return {
    ...cli.env,
    API_KEYS: key,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: join(dir, 'data'),
    APPROVED_DIRECTORY: join(dir, 'ws'),
    LOG_LEVEL: 'info',
    ...extra,
  };
}
