// Unit tests of cli-info (auth kind, bundled CLI, --version probe) and cli-env (the CLI's environment).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliEnvironment } from '../../src/engine/cli-env.js';
import { authKind, bundledCliPath, probeCli } from '../../src/engine/cli-info.js';

const scratch = mkdtempSync(join(tmpdir(), 'cca-cli-info-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** An empty config dir and HOME, so the machine's own login never counts. */
const emptyDir = join(scratch, 'empty');
mkdirSync(emptyDir);
const base = { HOME: emptyDir };

describe('authKind', () => {
  const cases: Array<[string, string, string]> = [
    ['CLAUDE_CODE_USE_BEDROCK', '1', 'bedrock'],
    ['CLAUDE_CODE_USE_VERTEX', '1', 'vertex'],
    ['CLAUDE_CODE_USE_FOUNDRY', 'true', 'foundry'],
    ['ANTHROPIC_API_KEY', 'sk-ant-xxx', 'api_key'],
    ['ANTHROPIC_AUTH_TOKEN', 'tok', 'auth_token'],
    ['CLAUDE_CODE_OAUTH_TOKEN', 'oat', 'oauth_token'],
  ];
  it.each(cases)('%s=%s → %s', (name, value, kind) => {
    expect(authKind({ ...base, [name]: value }, emptyDir)).toBe(kind);
  });

  it.each(cases)('%s counts as unset when 0, false, empty or blank', (name) => {
    for (const value of ['0', 'false', '', '   ']) expect(authKind({ ...base, [name]: value }, emptyDir)).toBe('none');
  });

  it('prefers a cloud provider over an API key, and an API key over tokens', () => {
    expect(authKind({ ...base, CLAUDE_CODE_USE_BEDROCK: '1', ANTHROPIC_API_KEY: 'k' }, emptyDir)).toBe('bedrock');
    expect(authKind({ ...base, ANTHROPIC_API_KEY: 'k', CLAUDE_CODE_OAUTH_TOKEN: 't' }, emptyDir)).toBe('api_key');
  });

  it('a .credentials.json in the config dir is a subscription login', () => {
    const dir = join(scratch, 'logged-in');
    mkdirSync(dir);
    writeFileSync(join(dir, '.credentials.json'), '{}');
    expect(authKind(base, dir)).toBe('subscription_login');
    expect(authKind({ ...base, CLAUDE_CONFIG_DIR: dir }, undefined)).toBe('subscription_login');
    const home = join(scratch, 'home');
    mkdirSync(join(home, '.claude'), { recursive: true });
    writeFileSync(join(home, '.claude', '.credentials.json'), '{}');
    expect(authKind({ HOME: home }, undefined)).toBe('subscription_login');
  });

  it('nothing at all is none', () => {
    expect(authKind(base, emptyDir)).toBe('none');
    expect(authKind(base, undefined)).toBe('none');
  });
});

describe('bundledCliPath', () => {
  it('finds the CLI installed with the SDK', () => {
    const path = bundledCliPath();
    expect(path).toMatch(/claude-agent-sdk-[a-z0-9]+-[a-z0-9]+(-musl)?[/\\]claude(\.exe)?$/);
  });
});

describe('probeCli', () => {
  const env = { PATH: process.env.PATH, HOME: emptyDir, ANTHROPIC_API_KEY: 'sk-test' };

  it('reports ok and the version for the bundled CLI', async () => {
    const info = await probeCli(bundledCliPath(), env, emptyDir);
    expect(info.error).toBeUndefined();
    expect(info.ok).toBe(true);
    expect(info.version).toMatch(/^2\.1\.\d+$/);
    expect(info.auth).toBe('api_key');
  });

  it('reports not ok with a clear error for a missing path', async () => {
    const missing = join(scratch, 'no-such-claude');
    const info = await probeCli(missing, env, emptyDir);
    expect(info.ok).toBe(false);
    expect(info.version).toBeUndefined();
    expect(info.error).toMatch(/did not start/);
    expect(info.error).toContain('ENOENT');
    expect(info.error).not.toContain('\n');
  });

  it('reports the install hint without a path', async () => {
    const info = await probeCli(undefined, env, emptyDir);
    expect(info.ok).toBe(false);
    expect(info.error).toMatch(/CLAUDE_CLI_PATH/);
    expect(info.auth).toBe('api_key');
  });
});

describe('cliEnvironment', () => {
  const server = {
    PATH: '/bin',
    HOME: '/home/u',
    API_KEYS: 'secret-key-1',
    DATABASE_URL: 'postgres://u:p@h/db',
    ANTHROPIC_API_KEY: 'sk',
    EMPTY: undefined,
  };

  it('removes the server secrets and keeps the rest, Claude credentials included', () => {
    const env = cliEnvironment(server, {
      secretNames: ['API_KEYS', 'DATABASE_URL'],
      configDir: undefined,
      clientApp: 'claude-code-api/1.0',
    });
    expect(env).not.toHaveProperty('API_KEYS');
    expect(env).not.toHaveProperty('DATABASE_URL');
    expect(env).not.toHaveProperty('EMPTY');
    expect(env).toMatchObject({ PATH: '/bin', HOME: '/home/u', ANTHROPIC_API_KEY: 'sk' });
  });

  it('sets CLAUDE_AGENT_SDK_CLIENT_APP and CLAUDE_CONFIG_DIR', () => {
    const env = cliEnvironment(
      { ...server, CLAUDE_CONFIG_DIR: '/elsewhere' },
      { secretNames: [], configDir: '/data/claude', clientApp: 'claude-code-api/1.0' },
    );
    expect(env.CLAUDE_CONFIG_DIR).toBe('/data/claude');
    expect(env.CLAUDE_AGENT_SDK_CLIENT_APP).toBe('claude-code-api/1.0');
  });

  it('leaves CLAUDE_CONFIG_DIR as it was when none is configured', () => {
    const env = cliEnvironment(
      { ...server, CLAUDE_CONFIG_DIR: '/elsewhere' },
      { secretNames: [], configDir: undefined, clientApp: 'x' },
    );
    expect(env.CLAUDE_CONFIG_DIR).toBe('/elsewhere');
  });

  it('does not modify its input', () => {
    const input = { ...server };
    cliEnvironment(input, { secretNames: ['API_KEYS'], configDir: '/c', clientApp: 'x' });
    expect(input).toEqual(server);
  });
});
