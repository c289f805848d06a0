// The server started as a user of the Python seed would: its .env and templates.yml, unchanged, in the working
// directory. Only the workspace root (/home/user/projects in that file) and the port are set from outside.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useProcessFixture } from '../support/process-fixture.js';
import { waitForNoCliProcesses } from '../support/processes.js';
import { apiOf, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { eventually } from '../support/wait.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/seed');

const f = useProcessFixture('cc-api-seed-env-');
let server: ServerProcess | undefined;

beforeAll(() => {
  copyFileSync(join(FIXTURES, 'env.example'), join(f.dir, '.env'));
  copyFileSync(join(FIXTURES, 'templates.yml'), join(f.dir, 'templates.yml'));
});

afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});

describe("the Python seed's .env.example and templates.yml", () => {
  it('start the server: its settings apply, the unused ones are warned about, its templates are served', async () => {
    const env = { ...f.cli.env, APPROVED_DIRECTORY: join(f.dir, 'projects'), API_PORT: '0' };
    server = await startServerProcess(f.dir, env);
    const s = server;
    // API_HOST=0.0.0.0: reachable on every address, e.g. 127.0.0.2 (a server bound to 127.0.0.1 is not).
    const port = new URL(s.url).port;
    expect((await fetch(`http://127.0.0.2:${port}/api/v1/health`)).status).toBe(200);
    const key1 = apiOf(s.url, 'key1');

    const health = await (await fetch(`${s.url}/api/v1/health`)).json();
    expect(health).toMatchObject({ status: 'ok', checks: { database: 'ok', claude_cli: 'ok' } });
    const warnings: string[] = health.data.warnings;
    for (const name of ['CLAUDE_RETRY_MAX_ATTEMPTS', 'CLAUDE_RETRY_BACKOFF_FACTOR', 'SESSION_TIMEOUT_HOURS'])
      expect(warnings.some((w) => w.startsWith(`${name} is a setting of the Python service`))).toBe(true);
    expect(warnings.some((w) => w.includes('2 key(s) shorter than 8 characters'))).toBe(true);
    for (const line of ['CLAUDE_RETRY_MAX_DELAY is a setting of the Python service', 'shorter than 8 characters'])
      expect(s.output()).toContain(line);
    expect(s.output()).toMatch(/"level":30/); // LOG_LEVEL=INFO

    // DATABASE_URL=sqlite+aiosqlite:///data/sessions.db: relative to the working directory.
    expect(existsSync(join(f.dir, 'data', 'sessions.db'))).toBe(true);
    expect((await fetch(`${s.url}/docs`)).status).toBe(200); // ENABLE_DOCS=true
    const cors = await fetch(`${s.url}/api/v1/health`, { headers: { origin: 'https://anywhere.example' } });
    expect(cors.headers.get('access-control-allow-origin')).toBe('*'); // CORS_ORIGINS=*
    expect((await apiOf(s.url, 'key3')('/api/v1/sessions')).status).toBe(401);
    expect((await key1('/api/v1/sessions')).headers.get('x-ratelimit-limit')).toBe('30');

    // templates.yml in the working directory, in the seed's own format.
    const templates = (await (await key1('/api/v1/templates')).json()).data;
    expect(Object.keys(templates)).toHaveLength(12);
    const seedFile = readFileSync(join(FIXTURES, 'templates.yml'), 'utf8');
    expect(templates['test-writer'].system_prompt).toBe(
      "Write tests for the code you are given: the normal path, the edges and the failures. Use the project's existing test framework.\n",
    );
    expect(templates['test-writer']).toMatchObject({ source: 'user', effort: 'medium' });

    // A session from one of them, and a real turn under the seed's settings.
    const created = await key1('/api/v1/sessions', {
      method: 'POST',
      json: { name: 'seed-env', template: 'test-writer' },
    });
    expect(created.status).toBe(201);
    expect((await created.json()).data).toMatchObject({ effort: 'medium', status: 'pending' });
    f.model.script({ match: 'seed-env-hello', steps: [{ text: 'hello from the seed settings' }] });
    const chat = await key1('/api/v1/sessions/seed-env/chat', { method: 'POST', json: { message: 'seed-env-hello' } });
    expect(chat.status).toBe(200);
    expect((await chat.json()).data.content).toBe('hello from the seed settings');

    // MAX_SESSIONS_PER_USER=10 (key2 is a tenant of its own).
    const key2 = apiOf(s.url, 'key2');
    for (let i = 1; i <= 10; i++)
      expect((await key2('/api/v1/sessions', { method: 'POST', json: { name: `s${i}` } })).status).toBe(201);
    const eleventh = await key2('/api/v1/sessions', { method: 'POST', json: { name: 's11' } });
    expect(eleventh.status).toBe(409);
    expect((await eleventh.json()).type).toBe('/problems/session-limit');

    // A broken templates.yml is refused with its line, and the running server keeps the templates it had.
    writeFileSync(join(f.dir, 'templates.yml'), `${seedFile}\nbroken:\n  effort: enormous\n`);
    const brokenLine = seedFile.split('\n').length + 2;
    await eventually(() => s.output().includes('templates file change refused'), 30_000, 'the refused reload');
    expect(s.output()).toContain(`templates.yml line ${brokenLine}, column 11: broken.effort must be one of`);
    const kept = (await (await key1('/api/v1/templates')).json()).data;
    expect(Object.keys(kept).sort()).toEqual(Object.keys(templates).sort());
    writeFileSync(join(f.dir, 'templates.yml'), `${seedFile}\nfixed:\n  effort: low\n`);
    await eventually(async () => (await key1('/api/v1/templates/fixed')).status === 200, 30_000, 'the fixed file');

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    await waitForNoCliProcesses({ configDir: f.cli.configDir }, 20_000);
    expect(s.output()).not.toContain('key1');
  }, 180_000);
});
