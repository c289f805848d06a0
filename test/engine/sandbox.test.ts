// The Bash sandbox settings of a session and the start-up probe (with the real CLI and bubblewrap of this machine).
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledCliPath } from '../../src/engine/cli-info.js';
import {
  deniedReads,
  hiddenVariables,
  probeSandbox,
  sandboxSettings,
  SessionTmpDirs,
  type SandboxPolicy,
} from '../../src/engine/sandbox.js';
import { makeCliEnv, type CliEnv } from '../support/cli-env.js';
import { needs } from '../support/needs.js';

const noBubblewrap = await needs('the sandbox probe test', 'bubblewrap');

const policy: SandboxPolicy = { enabled: true, allowNetwork: false, excludedCommands: [], denyRead: [] };
const paths = {
  approvedDirectory: '/srv/workspaces',
  dataDir: '/srv/data',
  databaseFile: '/var/db/app.db',
  home: '/home/svc',
  tmpRoot: '/tmp/cca0-abcdef',
  envFile: '/srv/app/.env',
  credentialFiles: ['/etc/gcp.json'],
};

describe('deniedReads', () => {
  it('covers every workspace, the data dir, the database, the CLI config and transcripts, the temp root, .env and HOME credentials', () => {
    const denied = deniedReads(paths, { denyRead: ['/opt/secrets'] });
    for (const p of [
      '/srv/workspaces',
      '/srv/data',
      '/var/db/app.db',
      '/var/db/app.db-wal',
      '/home/svc/.claude',
      '/home/svc/.claude.json',
      '/tmp/cca0-abcdef',
      '/srv/app/.env',
      '/home/svc/.ssh',
      '/home/svc/.aws',
      '/home/svc/.config/gcloud',
      '/etc/gcp.json',
      '/opt/secrets',
    ]) {
      expect(denied, p).toContain(p);
    }
  });

  it('denies CLAUDE_CONFIG_DIR instead of ~/.claude when one is set, and never the root', () => {
    const denied = deniedReads({ ...paths, configDir: '/srv/claude', approvedDirectory: '/' }, { denyRead: [] });
    expect(denied).toContain('/srv/claude');
    expect(denied).not.toContain('/home/svc/.claude');
    expect(denied).not.toContain('/');
  });
});

describe('sandboxSettings', () => {
  const hide = hiddenVariables({ ANTHROPIC_API_KEY: 'x', GITHUB_TOKEN: 'y', PATH: '/bin' });

  it('fails closed, ignores dangerouslyDisableSandbox, keeps the network off and hides credentials', () => {
    const s = sandboxSettings(
      policy,
      { workingDir: '/srv/workspaces/k_1/a', tmpDir: '/tmp/cca0-abcdef/123' },
      ['/srv/workspaces'],
      hide,
    );
    expect(s).toMatchObject({
      enabled: true,
      failIfUnavailable: true,
      allowUnsandboxedCommands: false,
      network: { allowedDomains: [], strictAllowlist: true },
      filesystem: { denyRead: ['/srv/workspaces'], allowRead: ['/srv/workspaces/k_1/a', '/tmp/cca0-abcdef/123'] },
    });
    expect(s.credentials?.envVars).toEqual(
      expect.arrayContaining([
        { name: 'ANTHROPIC_API_KEY', mode: 'deny' },
        { name: 'GITHUB_TOKEN', mode: 'deny' },
        { name: 'AWS_SECRET_ACCESS_KEY', mode: 'deny' },
      ]),
    );
    expect(hide).not.toContain('PATH');
    expect(s).not.toHaveProperty('excludedCommands');
  });

  it('opens the network and excludes commands only when told', () => {
    const s = sandboxSettings(
      { ...policy, allowNetwork: true, excludedCommands: ['git', 'npm run:*'] },
      { workingDir: '/w', tmpDir: '/t' },
      [],
      [],
    );
    expect(s.network).toEqual({ allowedDomains: ['*'] });
    expect(s.excludedCommands).toEqual(['git', 'git *', 'npm run:*']);
  });
});

describe('SessionTmpDirs', () => {
  it('gives each session a short, stable folder under one root', () => {
    const dirs = new SessionTmpDirs('/srv/data');
    const a = dirs.pathOf('0b7e7d2c-9a43-4a4a-8d8f-0f5f0c3c1d11');
    expect(a.startsWith(`${dirs.root}/`)).toBe(true);
    expect(a).toBe(dirs.pathOf('0b7e7d2c-9a43-4a4a-8d8f-0f5f0c3c1d11'));
    expect(a).not.toBe(dirs.pathOf('another'));
    // Longer paths make the sandbox fall back to the shared /tmp/claude-<uid> (it puts sockets there).
    expect(a.length).toBeLessThanOrEqual(32);
    expect(new SessionTmpDirs('/other/data').root).not.toBe(dirs.root);
  });

  it('creates a private folder and removes it with the session', async () => {
    const dirs = new SessionTmpDirs(join(tmpdir(), `cca-test-data-${process.pid}`));
    const dir = await dirs.ensure('session-1');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    await dirs.remove('session-1');
    expect(existsSync(dir)).toBe(false);
    rmSync(dirs.root, { recursive: true, force: true });
  });
});

describe('probeSandbox', () => {
  let cli: CliEnv;
  let bin: string;

  beforeAll(() => {
    cli = makeCliEnv('http://127.0.0.1:9');
    // A PATH without bubblewrap: only the tools a shell needs.
    bin = mkdtempSync(join(tmpdir(), 'cca-nobwrap-'));
    mkdirSync(join(bin, 'bin'));
    for (const tool of ['sh', 'bash', 'true', 'socat']) symlinkSync(`/usr/bin/${tool}`, join(bin, 'bin', tool));
  });
  afterAll(() => {
    cli.cleanup();
    rmSync(bin, { recursive: true, force: true });
  });

  const settings = (dir: string) =>
    sandboxSettings(policy, { workingDir: dir, tmpDir: dir }, ['/nonexistent-denied'], ['ANTHROPIC_API_KEY']);

  it('reports a disabled sandbox without starting anything', async () => {
    expect(
      await probeSandbox({ policy: { ...policy, enabled: false }, cliPath: undefined, env: {}, settings }),
    ).toMatchObject({ enabled: false, available: false, reason: expect.stringContaining('SANDBOX_ENABLED=false') });
  });

  it.skipIf(noBubblewrap)('finds the sandbox available on this machine (bubblewrap and socat installed)', async () => {
    expect(await probeSandbox({ policy, cliPath: bundledCliPath(), env: cli.env, settings })).toEqual({
      enabled: true,
      available: true,
      reason: null,
      network: false,
    });
  });

  it('says why when bubblewrap is missing', async () => {
    const status = await probeSandbox({
      policy,
      cliPath: bundledCliPath(),
      env: { ...cli.env, PATH: join(bin, 'bin') },
      settings,
    });
    expect(status).toMatchObject({ enabled: true, available: false });
    expect(status.reason).toMatch(/bubblewrap|bwrap/);
  });
});
