// "This test needs X": probes a system part (PostgreSQL, Redis, bubblewrap, the session wall, chromium, a tmpfs mount, the redocly CLI); when it is missing the test is skipped with one loud line naming what to install, and under CI it fails instead.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connectRedis } from '../../src/store/redis.js';

/** Where the PostgreSQL and Redis tests connect (PG_TEST_URL, REDIS_TEST_URL). */
export const PG_ADMIN_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';
/** The browser of the web console's end-to-end tests (Debian's chromium by default). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The Redis server binary, for tests that start (and kill) a Redis of their own. */
export const REDIS_SERVER_PATH = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server';

/** The redocly CLI of the dev dependencies, and the environment that keeps it offline and quiet. */
export const REDOCLY = fileURLToPath(new URL('../../node_modules/.bin/redocly', import.meta.url));
export const REDOCLY_ENV = { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();

interface Part {
  /** Why it cannot be used here, or undefined when it can. */
  probe(): Promise<string | undefined>;
  /** How to get it. */
  install: string;
}

const PARTS = {
  postgresql: {
    install: 'apt-get install postgresql (trust auth for user postgres on 127.0.0.1:5432), or set PG_TEST_URL',
    async probe() {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
      try {
        await client.connect();
        await client.query('select 1');
        return undefined;
      } catch (err) {
        return `PostgreSQL at ${PG_ADMIN_URL.replace(/\/\/[^@/]*@/, '//…@')} is unreachable: ${firstLine(err)}`;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  },
  redis: {
    install: 'apt-get install redis-server, or set REDIS_TEST_URL',
    async probe() {
      try {
        const client = await connectRedis(REDIS_TEST_URL, { timeoutMs: 3000 });
        client.disconnect();
        return undefined;
      } catch (err) {
        return `Redis at ${REDIS_TEST_URL} is unreachable: ${firstLine(err)}`;
      }
    },
  },
  wall: {
    install: 'apt-get install bubblewrap (and a kernel that lets unprivileged users make user namespaces)',
    async probe() {
      // The namespaces the session wall asks for: user, pid, network, IPC, UTS and cgroup.
      try {
        const args = ['--unshare-all', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'];
        execFileSync('bwrap', args, { stdio: 'pipe', timeout: 10_000 });
        return undefined;
      } catch (err) {
        return `bubblewrap cannot make the wall's namespaces: ${firstLine(err)}`;
      }
    },
  },
  bubblewrap: {
    install: 'apt-get install bubblewrap socat',
    async probe() {
      try {
        execFileSync('socat', ['-V'], { stdio: 'pipe' });
      } catch (err) {
        return `socat does not run: ${firstLine(err)}`;
      }
      try {
        const args = ['--die-with-parent', '--ro-bind', '/', '/', '--dev', '/dev', '--unshare-pid', '--unshare-net'];
        execFileSync('bwrap', [...args, '--proc', '/proc', '--', 'true'], { stdio: 'pipe', timeout: 10_000 });
        return undefined;
      } catch (err) {
        return `bubblewrap cannot run with its namespaces: ${firstLine(err)}`;
      }
    },
  },
  chromium: {
    install: 'apt-get install chromium, or set CHROMIUM_PATH',
    async probe() {
      try {
        execFileSync(CHROMIUM_PATH, ['--version'], { stdio: 'pipe', timeout: 30_000 });
        return undefined;
      } catch (err) {
        return `${CHROMIUM_PATH} does not run: ${firstLine(err)}`;
      }
    },
  },
  'redis-server': {
    install: 'apt-get install redis-server, or set REDIS_SERVER_PATH',
    async probe() {
      try {
        execFileSync(REDIS_SERVER_PATH, ['--version'], { stdio: 'pipe', timeout: 30_000 });
        return undefined;
      } catch (err) {
        return `${REDIS_SERVER_PATH} does not run: ${firstLine(err)}`;
      }
    },
  },
  tmpfs: {
    install: 'run the tests as root (or with CAP_SYS_ADMIN) so a tmpfs can be mounted',
    async probe() {
      const dir = mkdtempSync(join(tmpdir(), 'cc-api-tmpfs-probe-'));
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
        execFileSync('umount', [dir], { stdio: 'pipe' });
        return undefined;
      } catch (err) {
        return `cannot mount a tmpfs: ${firstLine(err)}`;
      } finally {
        rmdirSync(dir);
      }
    },
  },
  redocly: {
    install: 'npm install (the @redocly/cli dev dependency)',
    async probe() {
      try {
        execFileSync(REDOCLY, ['--version'], {
          stdio: 'pipe',
          timeout: 60_000,
          env: { ...process.env, ...REDOCLY_ENV },
        });
        return undefined;
      } catch (err) {
        return `${REDOCLY} does not run: ${firstLine(err)}`;
      }
    },
  },
} satisfies Record<string, Part>;

export type PartName = keyof typeof PARTS;

const probes = new Map<PartName, Promise<string | undefined>>();

/**
 * Why `what` cannot run here (undefined when every part is there): use it as `describe.skipIf(await needs(…))`.
 * A missing part prints one line naming it and how to install it; with CI set it throws, so the file fails.
 */
export async function needs(what: string, ...parts: PartName[]): Promise<string | undefined> {
  for (const name of parts) {
    let probe = probes.get(name);
    if (!probe) probes.set(name, (probe = PARTS[name].probe()));
    const reason = await probe;
    if (reason === undefined) continue;
    const message = `${what}: ${name} is missing here (${reason}). Install: ${PARTS[name].install}`;
    if (process.env.CI) throw new Error(`${message} (CI is set, so this is a failure, not a skip)`);
    console.warn(`\n*** SKIPPED: ${message}\n`);
    return message;
  }
  return undefined;
}

let wallFallback: Promise<Record<string, string>> | undefined;

/**
 * What a test server adds to its settings where the session wall cannot run (no bubblewrap): WALL_UNCONFINED_TENANTS,
 * so the tests of other features may still serve several tenants. One loud line says so; with CI set it throws, as
 * needs() does. Empty where the wall runs. Tests of the wall itself use needs(…, 'wall') and skip instead.
 */
export function wallFallbackEnv(): Promise<Record<string, string>> {
  wallFallback ??= (async (): Promise<Record<string, string>> => {
    const reason = await PARTS.wall.probe();
    if (reason === undefined) return {};
    const message = `the session wall cannot run here (${reason}). Install: ${PARTS.wall.install}`;
    if (process.env.CI) throw new Error(`${message} (CI is set, so this is a failure)`);
    console.warn(
      `\n*** WALL MISSING: test servers serve several tenants unconfined (WALL_UNCONFINED_TENANTS=true): ${message}\n`,
    );
    return { WALL_UNCONFINED_TENANTS: 'true' };
  })();
  return wallFallback;
}
