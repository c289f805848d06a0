// `claude-code-api keys create|list|revoke` as a user runs it, against the database a running server uses.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { hashSecret } from '../../src/security/api-keys.js';
import { eventually } from '../support/wait.js';
import { appWithStore, type AppWithStore } from '../support/app-with-store.js';

const CLI = join(process.cwd(), 'src/cli.ts');
const TSX = import.meta.resolve('tsx');

let dir: string;
let databaseUrl: string;
let server: AppWithStore;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, ['--import', TSX, CLI, 'keys', ...args], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      DATA_DIR: join(dir, 'data'),
      APPROVED_DIRECTORY: join(dir, 'ws'),
    },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cca-keys-cli-'));
  databaseUrl = `sqlite:${join(dir, 'shared.db')}`;
  // Key lookups cached for the default 5 s: only the revocation watch can make the revoke arrive sooner.
  server = await appWithStore({}, { databaseUrl });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('keys CLI', () => {
  let created: { id: string; secret: string; tenant: string; scope: string };

  it('create prints the secret once; the running server accepts the key at once', async () => {
    const res = cli(
      'create',
      '--name',
      'from the cli',
      '--scope',
      'admin',
      '--rate-limit',
      '7',
      '--budget-usd',
      '1.25',
      '--json',
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    created = JSON.parse(res.stdout);
    expect(created).toMatchObject({
      name: 'from the cli',
      scope: 'admin',
      rateLimit: 7,
      budgetUsd: 1.25,
      source: 'db',
    });
    expect(created.secret).toMatch(/^cca_/);
    expect((await server.store.apiKeys.findById(created.id))?.hash).toBe(hashSecret(created.secret));
    const res2 = await server.app.inject({ url: '/api/v1/keys', headers: { 'x-api-key': created.secret } });
    expect(res2.statusCode).toBe(200);
    expect(res2.json().data.map((k: { id: string }) => k.id)).toContain(created.id);
  });

  it('create without --json tells the secret once and warns to store it', () => {
    const res = cli('create', '--name', 'human');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/created user key key_[0-9a-f]{16} \(human\)/);
    expect(res.stdout).toMatch(/cca_[A-Za-z0-9_-]{43}/);
    expect(res.stdout).toMatch(/shown once/);
  });

  it('list shows every key without secrets', () => {
    const res = cli('list', '--json');
    expect(res.code).toBe(0);
    const keys = JSON.parse(res.stdout);
    expect(keys.map((k: { name: string }) => k.name)).toEqual(['from the cli', 'human']);
    expect(res.stdout).not.toContain(created.secret);
    const text = cli('list');
    expect(text.stdout).toContain(created.id);
    expect(text.stdout).not.toContain('cca_');
  });

  it('revoke: the running server refuses the key within a second (KEY_REVOCATION_CHECK_SECONDS)', async () => {
    // Its lookup is in the server's cache now.
    expect(
      (await server.app.inject({ url: '/api/v1/keys', headers: { 'x-api-key': created.secret } })).statusCode,
    ).toBe(200);
    const res = cli('revoke', created.id);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/revoked key_.*running servers refuse it within 0\.5 s/);
    const exited = performance.now();
    await eventually(
      async () =>
        (await server.app.inject({ url: '/api/v1/keys', headers: { 'x-api-key': created.secret } })).statusCode === 401,
      10_000,
      'the server to refuse the revoked key',
    );
    expect(performance.now() - exited).toBeLessThan(1000);
    const again = await server.app.inject({ url: '/api/v1/keys', headers: { 'x-api-key': created.secret } });
    expect(again.json().type).toBe('/problems/revoked-api-key');
  });

  it('bad usage: exit 2 with help; an unknown id: exit 1 (run in-process, it is the same module)', async () => {
    const { keys } = await import('../../src/commands/keys.js');
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void errors.push(args.join(' ')));
    const saved = { ...process.env };
    try {
      for (const args of [
        ['create', '--name', 'x', '--scope', 'root'],
        ['create', '--name', 'x', '--rate-limit', '0'],
        ['create'],
        ['revoke'],
        ['frobnicate'],
        ['create', '--nmae', 'x'],
      ]) {
        errors.length = 0;
        expect(await keys.run(args), args.join(' ')).toBe(2);
        expect(errors.join('\n')).toMatch(/Usage:/);
      }
      Object.assign(process.env, {
        DATABASE_URL: databaseUrl,
        DATA_DIR: join(dir, 'data'),
        APPROVED_DIRECTORY: join(dir, 'ws'),
      });
      errors.length = 0;
      expect(await keys.run(['revoke', 'key_ffffffffffffffff'])).toBe(1);
      expect(errors.join('\n')).toMatch(/No API key/);
    } finally {
      spy.mockRestore();
      process.env = saved;
    }
  });
});
