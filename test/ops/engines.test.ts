// Every package the lock file installs runs on the oldest Node.js the project supports (package.json `engines`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = process.cwd();
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean }>;
};

describe('the lock file', () => {
  it("holds no package that asks for a newer Node.js than the project's own engines", () => {
    const oldest = semver.minVersion(manifest.engines.node)!;
    expect(oldest.version).toBe('20.19.0');
    const tooNew = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .flatMap(([path, pkg]) => {
        const range = Array.isArray(pkg.engines) ? undefined : pkg.engines?.node;
        return range && !semver.satisfies(oldest, range) ? [`${path}@${pkg.version} needs node ${range}`] : [];
      });
    expect(tooNew).toEqual([]);
  });
});
