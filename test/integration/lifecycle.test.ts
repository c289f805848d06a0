// Process lifecycle through the real CLI: resume after restart (SQLite and PostgreSQL), pool eviction, idle close, /repo, delete, no leftovers.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apiClient } from '../support/api/client.js';
import { useModelServer } from '../support/fixture.js';
import { createSession } from '../support/sessions.js';
import { promptTexts } from '../support/model-server.js';
import { needs } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';
import { cliProcesses, waitForNoCliProcesses } from '../support/processes.js';
import type { TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

const pgMissing = await needs('the PostgreSQL restart test', 'postgresql');
const f = useModelServer();
const server = (env: Record<string, string> = {}) => f.server(env);

afterEach(() => f.cleanupServers((t) => waitForNoCliProcesses({ under: t.dirs.data }, 20_000)));

/** A sync chat turn that must answer 200; its result. */
async function chat(t: TestServer, name: string, message: string) {
  const { response, data } = await apiClient(t).POST('/api/v1/sessions/{name}/chat', {
    params: { path: { name } },
    body: { message },
  });
  expect(response.status).toBe(200);
  const answer = data?.data;
  if (!answer || !('content' in answer)) throw new Error(`chat answered ${response.status} without a result`);
  return answer;
}

async function session(t: TestServer, name: string) {
  const { data } = await apiClient(t).GET('/api/v1/sessions/{name}', { params: { path: { name } } });
  return data!.data;
}
const lastPrompts = () => promptTexts(f.model.mainRequests().at(-1)!);
const liveClis = (t: TestServer) => cliProcesses({ under: t.dirs.data }).length;

async function continuesAfterRestart(env: Record<string, string>) {
  const t = await server(env);
  await createSession(t, 'keep');
  await chat(t, 'keep', 'remember the word pineapple');
  const before = await chat(t, 'keep', 'and the number 7');
  await t.restart();
  await waitForNoCliProcesses({ under: t.dirs.data }, 20_000);
  const after = await chat(t, 'keep', 'what were the word and number?');
  expect(lastPrompts()).toEqual(['remember the word pineapple', 'and the number 7', 'what were the word and number?']);
  expect(after.session_id).toBe(before.session_id);
  const s = await session(t, 'keep');
  expect(s.totals.turns).toBe(3);
  expect(after.cost_usd).toBeGreaterThan(0);
  expect(after.cost_usd).toBeLessThan(before.cost_usd * 3); // a resumed process reports the turn, not the whole history
  const history = await apiClient(t).GET('/api/v1/sessions/{name}/history', { params: { path: { name: 'keep' } } });
  expect(history.data!.data).toHaveLength(6);
}

describe('restart', () => {
  it('continues the conversation after a server restart (SQLite)', async () => {
    await continuesAfterRestart({});
  });

  it.skipIf(pgMissing)('continues the conversation after a server restart (PostgreSQL)', async () => {
    const db = await createTempDatabase('cca_it');
    try {
      await continuesAfterRestart({ DATABASE_URL: db.url });
    } finally {
      await f.cleanupServers();
      await db.drop();
    }
  });
});

describe('process pool', () => {
  it('keeps at most MAX_LIVE_SESSIONS processes and resumes an evicted session transparently', async () => {
    const t = await server({ MAX_LIVE_SESSIONS: '1', MAX_CONCURRENT_TURNS: '1' });
    await createSession(t, 'one');
    await createSession(t, 'two');
    await chat(t, 'one', 'one: first');
    await chat(t, 'two', 'two: first');
    expect((await session(t, 'one')).live).toBe(false);
    expect((await session(t, 'two')).live).toBe(true);
    await chat(t, 'one', 'one: second');
    expect(lastPrompts()).toEqual(['one: first', 'one: second']);
    await eventually(() => liveClis(t) <= 1, 20_000, 'at most one CLI process');
    const health = await apiClient(t).GET('/api/v1/health');
    expect(health.data!.data.engine.live_processes).toBe(1);
  });

  it('closes an idle session process after SESSION_IDLE_SECONDS and resumes it on the next turn', async () => {
    const t = await server({ SESSION_IDLE_SECONDS: '1' });
    await createSession(t, 'idle');
    await chat(t, 'idle', 'before the nap');
    await eventually(async () => !(await session(t, 'idle')).live, 30_000, 'the idle process to close');
    await waitForNoCliProcesses({ under: t.dirs.data }, 20_000);
    await chat(t, 'idle', 'after the nap');
    expect(lastPrompts()).toEqual(['before the nap', 'after the nap']);
  });
});

describe('working directory', () => {
  it('moves a session to another folder inside APPROVED_DIRECTORY and keeps the conversation', async () => {
    const t = await server();
    const s = await createSession(t, 'mover');
    await chat(t, 'mover', 'in the workspace');
    const target = join(s.workspace, 'sub', 'project');
    mkdirSync(target, { recursive: true });
    const moved = await apiClient(t).POST('/api/v1/sessions/{name}/repo', {
      params: { path: { name: 'mover' } },
      body: { working_dir: target },
    });
    expect(moved.response.status).toBe(200);
    expect(moved.data!.data.working_dir).toBe(target);
    f.model.script({
      match: 'write-in-repo',
      steps: [{ tool: { name: 'Write', input: { file_path: '{{cwd}}/moved.txt', content: 'x' } } }, { text: 'ok' }],
    });
    await chat(t, 'mover', 'write-in-repo');
    expect(existsSync(join(target, 'moved.txt'))).toBe(true);
    expect(lastPrompts()).toEqual(['in the workspace', 'write-in-repo']);
  });
});

describe('deleting and stopping', () => {
  it('delete stops the session process; purge removes the workspace; stop leaves no CLI process', async () => {
    const t = await server();
    const a = await createSession(t, 'gone');
    const b = await createSession(t, 'stays');
    await chat(t, 'gone', 'hello gone');
    await chat(t, 'stays', 'hello stays');
    expect(liveClis(t)).toBe(2);

    const api = apiClient(t);
    const del = await api.DELETE('/api/v1/sessions/{name}', {
      params: { path: { name: 'gone' }, query: { purge: true } },
    });
    expect(del.response.status).toBe(204);
    await eventually(() => liveClis(t) === 1, 20_000, 'one CLI process left');
    expect(existsSync(a.workspace)).toBe(false);
    expect((await api.GET('/api/v1/sessions/{name}', { params: { path: { name: 'gone' } } })).response.status).toBe(
      404,
    );

    const keep = await api.DELETE('/api/v1/sessions/{name}', {
      params: { path: { name: 'stays' }, query: { purge: false } },
    });
    expect(keep.response.status).toBe(204);
    expect(existsSync(b.workspace)).toBe(true);
    await eventually(() => liveClis(t) === 0, 20_000, 'no CLI process');

    await createSession(t, 'last');
    await chat(t, 'last', 'one more');
    await t.stop();
    await waitForNoCliProcesses({ under: t.dirs.data }, 20_000);
  });

  it('deleting a session interrupts its running turn', async () => {
    const t = await server();
    await createSession(t, 'busy');
    f.model.script({ match: 'never-ending', steps: [{ hang: true }] });
    const api = apiClient(t);
    const busy = { params: { path: { name: 'busy' } } };
    const pending = api.POST('/api/v1/sessions/{name}/chat', { ...busy, body: { message: 'never-ending' } });
    await f.model.waitFor((r) => r.prompt === 'never-ending');
    const del = await api.DELETE('/api/v1/sessions/{name}', { params: { ...busy.params, query: { purge: false } } });
    expect(del.response.status).toBe(204);
    const { response, data } = await pending;
    expect(response.status).toBe(200);
    expect(data?.data).toMatchObject({ status: 'interrupted' });
    await waitForNoCliProcesses({ under: t.dirs.data }, 20_000);
  });
});
