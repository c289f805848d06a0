// `claude-code-api doctor`: each check's verdict and fix, directly and as a process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../src/commands/doctor.js';
import { loadConfig } from '../../src/config/index.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cc-api-doctor-')));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { DATA_DIR: join(dir, 'data'), APPROVED_DIRECTORY: join(dir, 'ws'), API_KEYS: 'doctor-key-12345678' };
const byName = (checks: Awaited<ReturnType<typeof runChecks>>) => Object.fromEntries(checks.map((c) => [c.name, c]));

describe('doctor', () => {
  it('passes the CLI, database and folders on a good set-up', async () => {
    const checks = byName(await runChecks(loadConfig(base)));
    expect(checks['Claude Code CLI']).toMatchObject({ verdict: 'ok' });
    expect(checks['Claude Code CLI']!.detail).toMatch(/^\d+\.\d+\.\d+ at /);
    expect(checks.Database).toMatchObject({ verdict: 'ok' });
    expect(checks.DATA_DIR).toMatchObject({ verdict: 'ok' });
    expect(checks['API keys']).toMatchObject({ verdict: 'ok' });
  });

  it('names the fix for a missing CLI, an unwritable folder, a bad database and open mode', async () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const checks = byName(
      await runChecks(
        loadConfig({
          ...base,
          API_KEYS: '',
          CLAUDE_CLI_PATH: join(dir, 'no-such-claude'),
          DATA_DIR: file,
          // Under a file: no user, root included, can create it.
          APPROVED_DIRECTORY: join(file, 'ws'),
          DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        }),
      ),
    );
    expect(checks['Claude Code CLI']).toMatchObject({
      verdict: 'fail',
      fix: expect.stringContaining('CLAUDE_CLI_PATH'),
    });
    expect(checks.DATA_DIR).toMatchObject({ verdict: 'fail', fix: expect.stringContaining('DATA_DIR') });
    expect(checks.Database).toMatchObject({ verdict: 'fail', fix: expect.stringContaining('DATABASE_URL') });
    expect(checks['API keys']).toMatchObject({ verdict: 'warn' });
    expect(checks.APPROVED_DIRECTORY).toMatchObject({
      verdict: 'fail',
      fix: expect.stringContaining('APPROVED_DIRECTORY'),
    });
  });

  it('exits 1 with a ✗ line and its fix when a check fails', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'doctor'], {
      env: { ...process.env, ...base, CLAUDE_CLI_PATH: join(dir, 'no-such-claude'), ANTHROPIC_API_KEY: 'x' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/✗ Claude Code CLI: .*\n\s+fix: /);
  });
});
