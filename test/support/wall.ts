// Whether the wall (bubblewrap with user, pid and network namespaces) can run here: tests that need it skip loudly, and fail under CI.
import { spawnSync } from 'node:child_process';

/** Why the wall can't run (undefined when it can). In CI a missing wall throws instead. */
export function wallUnavailable(what: string): string | undefined {
  const run = spawnSync('bwrap', ['--unshare-all', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const reason =
    run.error !== undefined
      ? `bubblewrap (bwrap) is not installed: ${run.error.message}`
      : run.status !== 0
        ? `bubblewrap cannot create its namespaces: ${run.stderr.trim()}`
        : undefined;
  if (reason === undefined) return undefined;
  if (process.env.CI) throw new Error(`${reason}; CI requires ${what}`);
  console.warn(`${reason}; skipping ${what} (apt-get install bubblewrap)`);
  return reason;
}
