// The server as a user runs it: a real process configured by environment and .env, driven over HTTP, stopped with SIGTERM.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useProcessFixture } from '../support/process-fixture.js';
import { waitForNoCliProcesses } from '../support/processes.js';
import { apiOf, startServerProcess } from '../support/server-process.js';

const CLI = join(process.cwd(), 'src/cli.ts');
const TSX = import.meta.resolve('tsx');
const KEY = 'e2e-key-from-dotenv-1234';

const f = useProcessFixture('cc-api-e2e-');

describe('claude-code-api serve', () => {
  it('reads .env, serves the API, runs real turns, and drains on SIGTERM with no CLI left', async () => {
    const work = join(f.dir, 'run');
    const data = join(work, 'state');
    const workspaces = join(work, 'ws');
    mkdirp(work);
    writeFileSync(
      join(work, '.env'),
      `API_KEYS=${KEY}\nPORT=0\nHOST=127.0.0.1\nDATA_DIR=${data}\nAPPROVED_DIRECTORY=${workspaces}\n`,
    );
    const server = await startServerProcess(work, {
      ...f.cli.env,
      CLAUDE_CONFIG_DIR: f.cli.configDir,
      LOG_LEVEL: 'info',
    });
    const call = apiOf(server.url, KEY);
    const api = (path: string, init: RequestInit & { json?: unknown } = {}) => call(`/api/v1${path}`, init);

    const health = await (await fetch(`${server.url}/api/v1/health`)).json();
    expect(health.data).toMatchObject({
      status: 'ok',
      database: { ok: true, dialect: 'sqlite' },
      auth_mode: 'api_keys',
    });
    expect(health.data.claude.cli_ok).toBe(true);
    expect(health.data.claude.auth).toBe('api_key');
    expect((await fetch(`${server.url}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${server.url}/api/v1/sessions`)).status).toBe(401);

    expect((await api('/sessions', { method: 'POST', json: { name: 'e2e' } })).status).toBe(201);
    f.model.script({
      match: 'e2e-write',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/e2e.txt', content: 'from the process' } } },
        { text: 'written' },
      ],
    });
    const first = await api('/sessions/e2e/chat', { method: 'POST', json: { message: 'e2e-write' } });
    expect(first.status).toBe(200);
    const [tenant] = readdirSync(workspaces);
    expect(tenant).toMatch(/^k_[0-9a-f]{16}$/);
    expect(readFileSync(join(workspaces, tenant!, 'e2e', 'e2e.txt'), 'utf8')).toBe('from the process');
    expect(existsSync(join(data, 'claude-code-api.db'))).toBe(true);

    // A turn still running when SIGTERM arrives finishes within the grace period.
    f.model.script({ match: 'slow-goodbye', steps: [{ text: ['good', 'bye ', 'now'], chunkDelayMs: 300 }] });
    const slow = api('/sessions/e2e/chat', { method: 'POST', json: { message: 'slow-goodbye' } });
    await f.model.waitFor((r) => r.prompt === 'slow-goodbye');
    server.child.kill('SIGTERM');
    const res = await slow;
    expect(res.status).toBe(200);
    expect((await res.json()).data.content).toBe('goodbye now');
    expect(await server.exited).toBe(0);
    await waitForNoCliProcesses({ under: data }, 20_000);
    expect(server.output()).not.toContain(KEY);
  });

  it('stops at start-up with one clear line for an invalid setting', async () => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, 'serve'], {
      cwd: f.dir,
      env: { ...f.cli.env, PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toContain('PORT');
  });
});

function mkdirp(path: string) {
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path, { recursive: true });
}
