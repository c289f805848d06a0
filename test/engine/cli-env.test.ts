// The CLI's environment is an allow-list: what Claude Code needs passes, the server's settings and secrets never do.
import { describe, expect, it } from 'vitest';
import { cliEnvironment, isCliVariable } from '../../src/engine/cli-env.js';

const server: Record<string, string | undefined> = {
  PATH: '/usr/bin',
  HOME: '/home/svc',
  USER: 'svc',
  SHELL: '/bin/bash',
  TERM: 'xterm',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  TZ: 'UTC',
  TMPDIR: '/tmp',
  HTTPS_PROXY: 'http://proxy:3128',
  https_proxy: 'http://proxy:3128',
  NO_PROXY: 'localhost',
  NODE_EXTRA_CA_CERTS: '/etc/ca.pem',
  IS_SANDBOX: '1',
  ANTHROPIC_API_KEY: 'sk-ant-test',
  ANTHROPIC_BASE_URL: 'https://gateway',
  CLAUDE_CODE_USE_BEDROCK: '1',
  AWS_REGION: 'eu-west-1',
  AWS_SECRET_ACCESS_KEY: 'aws-secret',
  GOOGLE_CLOUD_PROJECT: 'proj',
  CLOUD_ML_REGION: 'us-east5',
  VERTEX_REGION_CLAUDE_3_5_SONNET: 'us-east5',
  DISABLE_TELEMETRY: '1',
  // the server's own
  API_KEYS: 'user-key-0001',
  ADMIN_API_KEYS: 'admin-key-0001',
  WEBHOOK_SECRET: 'whsec_abc',
  DATABASE_URL: 'postgres://app:FAKE-PW@db/app',
  REDIS_URL: 'redis://:redis-pw@cache:6379',
  PORT: '8000',
  CLAUDE_MODEL: 'opus',
  CLAUDE_MAX_COST_PER_USER: '50',
  SANDBOX_ENABLED: 'true',
  // anything else of the host
  GITHUB_TOKEN: 'ghp_x',
  MY_APP_SECRET: 'x',
  NPM_TOKEN: 'npm_x',
};

describe('cliEnvironment', () => {
  const env = cliEnvironment(server, {
    secretNames: ['API_KEYS', 'DATABASE_URL'],
    configDir: '/data/claude',
    clientApp: 'claude-code-api/1',
  });

  it('passes what Claude Code needs: paths, locale, proxies, CA, its auth and provider settings', () => {
    for (const name of [
      'PATH',
      'HOME',
      'USER',
      'SHELL',
      'TERM',
      'LANG',
      'LC_ALL',
      'TZ',
      'TMPDIR',
      'HTTPS_PROXY',
      'https_proxy',
      'NO_PROXY',
      'NODE_EXTRA_CA_CERTS',
      'IS_SANDBOX',
      'ANTHROPIC_API_KEY',
      'ANTHROPIC_BASE_URL',
      'CLAUDE_CODE_USE_BEDROCK',
      'AWS_REGION',
      'AWS_SECRET_ACCESS_KEY',
      'GOOGLE_CLOUD_PROJECT',
      'CLOUD_ML_REGION',
      'VERTEX_REGION_CLAUDE_3_5_SONNET',
      'DISABLE_TELEMETRY',
    ]) {
      expect(env[name], name).toBe(server[name]);
    }
  });

  it("never passes the server's settings or secrets, nor anything not on the list", () => {
    for (const name of [
      'API_KEYS',
      'ADMIN_API_KEYS',
      'WEBHOOK_SECRET',
      'DATABASE_URL',
      'REDIS_URL',
      'PORT',
      'CLAUDE_MODEL',
      'CLAUDE_MAX_COST_PER_USER',
      'SANDBOX_ENABLED',
      'GITHUB_TOKEN',
      'MY_APP_SECRET',
      'NPM_TOKEN',
    ]) {
      expect(env, name).not.toHaveProperty(name);
    }
    const values = Object.values(env).join('\n');
    for (const secret of ['user-key-0001', 'admin-key-0001', 'whsec_abc', 'FAKE-PW', 'redis-pw', 'ghp_x'])
      expect(values).not.toContain(secret);
  });

  it('sets the config dir and the client app', () => {
    expect(env.CLAUDE_CONFIG_DIR).toBe('/data/claude');
    expect(env.CLAUDE_AGENT_SDK_CLIENT_APP).toBe('claude-code-api/1');
  });

  it('lets the operator add names and prefixes (CLI_ENV_ALLOW), but never a secret', () => {
    const more = cliEnvironment(server, {
      secretNames: ['API_KEYS'],
      configDir: undefined,
      clientApp: 'x',
      allow: ['GITHUB_TOKEN', 'MY_*', 'API_KEYS', 'WEBHOOK_SECRET', 'CLAUDE_MODEL'],
    });
    expect(more.GITHUB_TOKEN).toBe('ghp_x');
    expect(more.MY_APP_SECRET).toBe('x');
    expect(more).not.toHaveProperty('API_KEYS');
    expect(more).not.toHaveProperty('WEBHOOK_SECRET');
    expect(more).not.toHaveProperty('CLAUDE_MODEL');
    expect(isCliVariable('CLAUDE_CONFIG_DIR', { secretNames: [] })).toBe(true);
  });
});
