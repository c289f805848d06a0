// `claude-code-api doctor`: each check's verdict and fix, directly and as a process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../src/commands/doctor.js';
import { loadConfig } from '../../src/config/index.js';
import { needs } from '../support/needs.js';

const noWall = await needs('the doctor wall check', 'wall');

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

  describe('the wall', () => {
    // Claude Code's credentials are what the wall's proxy carries; the check builds a wall like a session's.
    let saved: string | undefined;
    beforeAll(() => {
      saved = process.env.ANTHROPIC_API_KEY;
      process.env.ANTHROPIC_API_KEY = 'sk-ant-doctor-test';
    });
    afterAll(() => {
      if (saved === undefined) delete process.env.ANTHROPIC_API_KEY;
      else process.env.ANTHROPIC_API_KEY = saved;
    });

    it.skipIf(noWall)('is ok where bubblewrap builds it', async () => {
      const checks = byName(await runChecks(loadConfig(base)));
      expect(checks.Wall).toMatchObject({ verdict: 'ok' });
    });

    it('warns when it is off with one tenant, and fails with several (the server would not start)', async () => {
      const one = byName(await runChecks(loadConfig({ ...base, WALL_ENABLED: 'false' })));
      expect(one.Wall).toMatchObject({ verdict: 'warn', fix: expect.stringContaining('WALL_ENABLED=true') });
      expect(one.Wall!.detail).toContain('WALL_ENABLED=false');
      const two = byName(
        await runChecks(
          loadConfig({ ...base, WALL_ENABLED: 'false', API_KEYS: 'doctor-key-12345678,doctor-key-87654321' }),
        ),
      );
      expect(two.Wall).toMatchObject({ verdict: 'fail' });
      expect(two.Wall!.detail).toContain('will not start');
      const accepted = byName(
        await runChecks(
          loadConfig({
            ...base,
            WALL_ENABLED: 'false',
            WALL_UNCONFINED_TENANTS: 'true',
            API_KEYS: 'doctor-key-12345678,doctor-key-87654321',
          }),
        ),
      );
      expect(accepted.Wall).toMatchObject({ verdict: 'warn' });
    });
  });

  it("warns about each configuration warning, the seed's unused settings included, and still exits 0", async () => {
    const config = loadConfig({ ...base, CLAUDE_RETRY_MAX_ATTEMPTS: '5' });
    expect(config.warnings.some((w) => w.includes('CLAUDE_RETRY_MAX_ATTEMPTS'))).toBe(true);
    const warned = (await runChecks(config)).filter((c) => c.name === 'Configuration');
    expect(warned.map((c) => [c.verdict, c.detail])).toEqual(config.warnings.map((w) => ['warn', w]));

    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'doctor'], {
      env: {
        ...process.env,
        ...base,
        ANTHROPIC_API_KEY: 'x',
        CLAUDE_RETRY_MAX_ATTEMPTS: '5',
        SESSION_TIMEOUT_HOURS: '12',
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stdout).toMatch(/! Configuration: .*CLAUDE_RETRY_MAX_ATTEMPTS/);
    expect(run.stdout).toMatch(/! Configuration: .*SESSION_TIMEOUT_HOURS/);
    expect(run.status).toBe(0);
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
