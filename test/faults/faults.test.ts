// Faults: the CLI killed mid-turn, the database locked, the server SIGKILLed mid-chat — each ends in a clear problem or a recovered state.
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionTmpDirs } from '../../src/engine/sandbox.js';
import { proxySocketDir } from '../../src/engine/wall/stale-socket-dirs.js';
import { makeCliEnv, type CliEnv } from '../support/cli-env.js';
import { ModelServer, promptTexts } from '../support/model-server.js';
import { cliProcesses, waitForNoCliProcesses } from '../support/processes.js';
import { apiOf, startServerProcess } from '../support/server-process.js';
import { startTestServer, type TestServer } from '../support/server.js';

let model: ModelServer;

beforeAll(async () => {
  model = await ModelServer.start();
});

afterAll(async () => {
  await model?.close();
});

describe('in-process faults', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(model.url);
    expect((await t.request('/api/v1/sessions', { method: 'POST', json: { name: 'f' } })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('a CLI process killed mid-turn is a 502, and the next turn resumes the conversation', async () => {
    expect(
      (await t.request('/api/v1/sessions/f/chat', { method: 'POST', json: { message: 'before the crash' } })).status,
    ).toBe(200);
    model.script({ match: 'crash-here', steps: [{ hang: true }] });
    const pending = t.request('/api/v1/sessions/f/chat', { method: 'POST', json: { message: 'crash-here' } });
    await model.waitFor((r) => r.prompt === 'crash-here');
    const victims = cliProcesses({ under: t.dirs.data });
    expect(victims).toHaveLength(1);
    const victim = victims[0];
    process.kill(victim!.pid, 'SIGKILL');
    const res = await pending;
    expect(res.status).toBe(502);
    expect((await res.json()).type).toBe('/problems/process-failed');
    const next = await t.request('/api/v1/sessions/f/chat', { method: 'POST', json: { message: 'after the crash' } });
    expect(next.status).toBe(200);
    expect(promptTexts(model.mainRequests().at(-1)!)).toContain('before the crash');
    const history = (await (await t.request('/api/v1/sessions/f/history?limit=100')).json()).data;
    expect(history.find((r: { content: string }) => r.content === 'crash-here')).toMatchObject({ role: 'user' });
    expect(
      history.filter((r: { role: string; status: string }) => r.role === 'assistant' && r.status === 'error'),
    ).toHaveLength(1);
  });

  it('a locked database is a 503 problem with Retry-After, and nothing is half-written', async () => {
    const db = new Database(join(t.dirs.data, 'claude-code-api.db'));
    try {
      db.exec('BEGIN EXCLUSIVE');
      const res = await t.request('/api/v1/sessions', { method: 'POST', json: { name: 'locked-out' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect((await res.json()).type).toBe('/problems/database-unavailable');
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
    expect((await t.request('/api/v1/sessions/locked-out')).status).toBe(404);
    expect((await t.request('/api/v1/sessions', { method: 'POST', json: { name: 'locked-out' } })).status).toBe(201);
  });
});

describe('server killed', () => {
  let cli: CliEnv;
  let dir: string;
  beforeAll(() => {
    cli = makeCliEnv(model.url);
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'cc-api-kill-')));
  });
  afterAll(() => {
    cli?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SIGKILL mid-chat: no CLI process outlives it, and after a restart the turn reads as interrupted and the session goes on', async () => {
    const key = 'kill-test-key-12345678';
    const env = {
      ...cli.env,
      API_KEYS: key,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      APPROVED_DIRECTORY: join(dir, 'ws'),
      LOG_LEVEL: 'info',
    };
    mkdirSync(join(dir, 'ws'), { recursive: true });
    const first = await startServerProcess(dir, env);
    const api1 = apiOf(first.url, key);
    expect((await api1('/api/v1/sessions', { method: 'POST', json: { name: 'k' } })).status).toBe(201);
    expect(
      (await api1('/api/v1/sessions/k/chat', { method: 'POST', json: { message: 'kept before the kill' } })).status,
    ).toBe(200);
    model.script({ match: 'killed-mid-turn', steps: [{ hang: true }] });
    const pending = api1('/api/v1/sessions/k/chat', { method: 'POST', json: { message: 'killed-mid-turn' } }).catch(
      (e: unknown) => e as Error,
    );
    await model.waitFor((r) => r.prompt === 'killed-mid-turn');
    // A walled session's model-proxy socket lives in a folder of the server process.
    const staleSockets = proxySocketDir(new SessionTmpDirs(env.DATA_DIR).root, first.child.pid!);
    const hadSockets = existsSync(staleSockets);
    first.child.kill('SIGKILL');
    expect(await pending).toBeInstanceOf(Error);
    await first.exited;
    await waitForNoCliProcesses({ under: env.DATA_DIR }, 20_000);
    // The killed server could not remove its sockets' folder …
    expect(existsSync(staleSockets)).toBe(hadSockets);

    const second = await startServerProcess(dir, env);
    try {
      const api2 = apiOf(second.url, key);
      // … the next start removes it (it is there whenever the sessions are walled).
      expect(existsSync(staleSockets)).toBe(false);
      const health = (await (await api2('/api/v1/health')).json()).data;
      expect(hadSockets).toBe(health.wall.available);
      const history = (await (await api2('/api/v1/sessions/k/history')).json()).data;
      expect(history.map((r: { role: string; status: string }) => [r.role, r.status])).toEqual([
        ['user', 'ok'],
        ['assistant', 'ok'],
        ['user', 'ok'],
        ['assistant', 'interrupted'],
      ]);
      expect(history[3].error.type).toBe('/problems/server-restarted');
      const after = await api2('/api/v1/sessions/k/chat', { method: 'POST', json: { message: 'back again' } });
      expect(after.status).toBe(200);
      expect(promptTexts(model.mainRequests().at(-1)!)).toContain('kept before the kill');
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      await waitForNoCliProcesses({ under: env.DATA_DIR }, 20_000);
    }
  });
});
