// Faults: the CLI killed mid-turn, the database locked, the server SIGKILLed mid-chat — each ends in a clear problem or a recovered state.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { SessionTmpDirs } from '../../src/engine/sandbox.js';
import { proxySocketDir } from '../../src/engine/wall/stale-socket-dirs.js';
import { useTestServer } from '../support/fixture.js';
import { promptTexts } from '../support/model-server.js';
import { useProcessFixture } from '../support/process-fixture.js';
import { cliProcesses, waitForNoCliProcesses } from '../support/processes.js';
import { apiOf, startServerProcess } from '../support/server-process.js';
import { createSession } from '../support/sessions.js';

describe('in-process faults', () => {
  const ctx = useTestServer();
  beforeAll(async () => {
    await createSession(ctx.t, 'f');
  });

  /** A sync chat on session f through the typed client. */
  const chat = (message: string) =>
    ctx.api.POST('/api/v1/sessions/{name}/chat', { params: { path: { name: 'f' } }, body: { message } });

  it('a CLI process killed mid-turn is a 502, and the next turn resumes the conversation', async () => {
    expect((await chat('before the crash')).response.status).toBe(200);
    ctx.model.script({ match: 'crash-here', steps: [{ hang: true }] });
    const pending = chat('crash-here');
    await ctx.model.waitFor((r) => r.prompt === 'crash-here');
    const victims = cliProcesses({ under: ctx.t.dirs.data });
    expect(victims).toHaveLength(1);
    const victim = victims[0];
    process.kill(victim!.pid, 'SIGKILL');
    const res = await pending;
    expect(res.response.status).toBe(502);
    expect(res.error?.type).toBe('/problems/process-failed');
    expect((await chat('after the crash')).response.status).toBe(200);
    expect(promptTexts(ctx.model.mainRequests().at(-1)!)).toContain('before the crash');
    const history = await ctx.api.GET('/api/v1/sessions/{name}/history', {
      params: { path: { name: 'f' }, query: { limit: 100 } },
    });
    const rows = history.data!.data;
    expect(rows.find((r) => r.content === 'crash-here')).toMatchObject({ role: 'user' });
    expect(rows.filter((r) => r.role === 'assistant' && r.status === 'error')).toHaveLength(1);
  });

  it('a locked database is a 503 problem with Retry-After, and nothing is half-written', async () => {
    const create = () => ctx.api.POST('/api/v1/sessions', { body: { name: 'locked-out' } });
    const db = new Database(join(ctx.t.dirs.data, 'claude-code-api.db'));
    try {
      db.exec('BEGIN EXCLUSIVE');
      const res = await create();
      expect(res.response.status).toBe(503);
      expect(res.response.headers.get('retry-after')).toBe('2');
      expect(res.error?.type).toBe('/problems/database-unavailable');
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
    const gone = await ctx.api.GET('/api/v1/sessions/{name}', { params: { path: { name: 'locked-out' } } });
    expect(gone.response.status).toBe(404);
    expect((await create()).response.status).toBe(201);
  });
});

describe('server killed', () => {
  const p = useProcessFixture('cc-api-kill-');

  it('SIGKILL mid-chat: no CLI process outlives it, and after a restart the turn reads as interrupted and the session goes on', async () => {
    const key = 'kill-test-key-12345678';
    const env = p.serverEnv(key);
    const first = await startServerProcess(p.dir, env);
    const api1 = apiOf(first.url, key);
    await createSession(first, 'k', {}, key);
    expect(
      (await api1('/api/v1/sessions/k/chat', { method: 'POST', json: { message: 'kept before the kill' } })).status,
    ).toBe(200);
    p.model.script({ match: 'killed-mid-turn', steps: [{ hang: true }] });
    const pending = api1('/api/v1/sessions/k/chat', { method: 'POST', json: { message: 'killed-mid-turn' } }).catch(
      (e: unknown) => e as Error,
    );
    await p.model.waitFor((r) => r.prompt === 'killed-mid-turn');
    // A walled session's model-proxy socket lives in a folder of the server process.
    const staleSockets = proxySocketDir(new SessionTmpDirs(env.DATA_DIR!).root, first.child.pid!);
    const hadSockets = existsSync(staleSockets);
    first.child.kill('SIGKILL');
    expect(await pending).toBeInstanceOf(Error);
    await first.exited;
    await waitForNoCliProcesses({ under: env.DATA_DIR }, 20_000);
    // The killed server could not remove its sockets' folder …
    expect(existsSync(staleSockets)).toBe(hadSockets);

    const second = await startServerProcess(p.dir, env);
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
      expect(promptTexts(p.model.mainRequests().at(-1)!)).toContain('kept before the kill');
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      await waitForNoCliProcesses({ under: env.DATA_DIR }, 20_000);
    }
  });
});
