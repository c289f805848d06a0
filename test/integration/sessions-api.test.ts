// The sessions API over HTTP: create/list/get/delete, validation problems, tenancy between two keys, auth, and /repo's folder checks.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';

const ctx = useTestServer({
  MAX_SESSIONS_PER_USER: '5',
  MAX_MESSAGE_CHARS: '50',
  CLAUDE_ALLOWED_PERMISSION_MODES: 'default,acceptEdits,plan',
});
const [ALICE, BOB] = KEYS;

async function problem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  return res.json();
}

const create = (json: unknown, key: string | null = ALICE) =>
  ctx.t.request('/api/v1/sessions', { method: 'POST', json, key });

describe('sessions CRUD', () => {
  it('creates with options, answers 201 with Location, and lists newest first with pagination', async () => {
    const res = await create({
      name: 'crud-1',
      model: 'sonnet',
      effort: 'high',
      max_turns: 3,
      system_prompt: 'Be brief.',
      allowed_tools: ['Read', 'Write'],
      permission_mode: 'plan',
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/api/v1/sessions/crud-1');
    const body = await res.json();
    expect(body.meta).toMatchObject({ request_id: expect.any(String), timestamp: expect.any(String), version: 'v1' });
    expect(body.data).toMatchObject({
      name: 'crud-1',
      status: 'pending',
      claude_session_id: null,
      options: {
        model: 'sonnet',
        effort: 'high',
        max_turns: 3,
        system_prompt: 'Be brief.',
        allowed_tools: ['Read', 'Write'],
        permission_mode: 'plan',
      },
      totals: { cost_usd: 0, turns: 0 },
    });
    expect((await create({ name: 'crud-2' })).status).toBe(201);
    expect((await create({ name: 'crud-3' })).status).toBe(201);
    const list = await (await ctx.t.request('/api/v1/sessions?limit=2')).json();
    expect(list.data.map((s: { name: string }) => s.name)).toEqual(['crud-3', 'crud-2']);
    expect(list.meta.pagination).toEqual({ page: 1, limit: 2, total: 3, pages: 2 });
    const page2 = await (await ctx.t.request('/api/v1/sessions?limit=2&page=2')).json();
    expect(page2.data.map((s: { name: string }) => s.name)).toEqual(['crud-1']);
  });

  it('refuses a duplicate name with 409 and changes nothing', async () => {
    const body = await problem(await create({ name: 'crud-1' }), 409);
    expect(body.type).toBe('/problems/conflict');
    const again = await (await ctx.t.request('/api/v1/sessions/crud-1')).json();
    expect(again.data.options.model).toBe('sonnet');
  });

  it('rejects bad input with 422 problems naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{}, '/name'],
      [{ name: '' }, '/name'],
      [{ name: '-starts-with-dash' }, '/name'],
      [{ name: 'has space' }, '/name'],
      [{ name: 'x'.repeat(65) }, '/name'],
      [{ name: 'ok', unknown_field: 1 }, '/unknown_field'],
      [{ name: 'ok', max_turns: 0 }, '/max_turns'],
      [{ name: 'ok', max_turns: '3' }, '/max_turns'],
      [{ name: 'ok', effort: 'extreme' }, '/effort'],
      [{ name: 'ok', permission_mode: 'bypassPermissions' }, '/permission_mode'],
      [{ name: 'ok', permission_mode: 'dontAsk' }, '/permission_mode'],
      [{ name: 'ok', allowed_tools: ['WebFetch'] }, '/allowed_tools'],
      [{ name: 'ok', allowed_tools: 'Read;Bash' }, '/allowed_tools'],
      [{ name: 'ok', allowed_tools: 'Read,NoSuchTool' }, '/allowed_tools'],
      [{ name: 'ok', allowed_tools: 5 }, '/allowed_tools'],
    ];
    for (const [json, pointer] of cases) {
      const body = await problem(await create(json), 422);
      expect(
        body.errors.map((e: { pointer: string }) => e.pointer),
        JSON.stringify(json),
      ).toContain(pointer);
    }
    expect((await ctx.t.request('/api/v1/sessions/ok')).status).toBe(404);
  });

  it('answers bad JSON with 400, a wrong content type with 415, a too large body with 413', async () => {
    const bad = await ctx.t.request('/api/v1/sessions', {
      method: 'POST',
      body: '{"name":',
      headers: { 'content-type': 'application/json' },
    });
    expect((await problem(bad, 400)).type).toBe('/problems/bad-json');
    const text = await ctx.t.request('/api/v1/sessions', {
      method: 'POST',
      body: 'name=x',
      headers: { 'content-type': 'text/plain' },
    });
    await problem(text, 415);
    const big = await ctx.t.request('/api/v1/sessions', {
      method: 'POST',
      json: { name: 'big', system_prompt: 'x'.repeat(3 * 1024 * 1024) },
    });
    await problem(big, 413);
  });

  it('limits chat messages (blank, too long) with 422 before anything runs', async () => {
    const before = ctx.model.requests.length;
    for (const message of ['', '   ', 'x'.repeat(51)]) {
      await problem(await ctx.t.request('/api/v1/sessions/crud-2/chat', { method: 'POST', json: { message } }), 422);
    }
    await problem(await ctx.t.request('/api/v1/sessions/crud-2/chat', { method: 'POST', json: {} }), 422);
    await problem(
      await ctx.t.request('/api/v1/sessions/crud-2/chat', {
        method: 'POST',
        json: { message: 'hi', permission_mode: 'bypassPermissions' },
      }),
      422,
    );
    expect(ctx.model.requests.length).toBe(before);
  });

  it('enforces MAX_SESSIONS_PER_USER', async () => {
    expect((await create({ name: 'crud-4' })).status).toBe(201);
    expect((await create({ name: 'crud-5' })).status).toBe(201);
    expect((await problem(await create({ name: 'crud-6' }), 409)).type).toBe('/problems/session-limit');
  });

  it('deletes with 204, then the session is 404', async () => {
    expect((await ctx.t.request('/api/v1/sessions/crud-5', { method: 'DELETE' })).status).toBe(204);
    await problem(await ctx.t.request('/api/v1/sessions/crud-5'), 404);
    await problem(await ctx.t.request('/api/v1/sessions/crud-5', { method: 'DELETE' }), 404);
  });
});

describe('auth and tenancy', () => {
  it('needs a valid key: missing or wrong is 401, X-API-Key and Bearer both work', async () => {
    const none = await problem(await ctx.t.request('/api/v1/sessions', { key: null }), 401);
    expect(none.status).toBe(401);
    await problem(await ctx.t.request('/api/v1/sessions', { key: 'not-a-real-key-123' }), 401);
    const bearer = await ctx.t.request('/api/v1/sessions', {
      key: null,
      headers: { authorization: `Bearer ${ALICE}` },
    });
    expect(bearer.status).toBe(200);
    const health = await ctx.t.request('/api/v1/health', { key: null });
    expect(health.status).toBe(200);
  });

  it("isolates two keys: each sees only its own sessions, the other's are 404 on every route", async () => {
    expect((await create({ name: 'shared-name' }, ALICE)).status).toBe(201);
    expect((await create({ name: 'shared-name' }, BOB)).status).toBe(201);
    expect((await create({ name: 'bobs-only' }, BOB)).status).toBe(201);
    const bobList = await (await ctx.t.request('/api/v1/sessions', { key: BOB })).json();
    expect(bobList.data.map((s: { name: string }) => s.name).sort()).toEqual(['bobs-only', 'shared-name']);
    const aliceShared = (await (await ctx.t.request('/api/v1/sessions/shared-name')).json()).data;
    const bobShared = (await (await ctx.t.request('/api/v1/sessions/shared-name', { key: BOB })).json()).data;
    expect(aliceShared.id).not.toBe(bobShared.id);
    expect(aliceShared.workspace).not.toBe(bobShared.workspace);

    const before = ctx.model.requests.length;
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/v1/sessions/crud-1'],
      ['DELETE', '/api/v1/sessions/crud-1'],
      ['POST', '/api/v1/sessions/crud-1/repo', { working_dir: '.' }],
      ['POST', '/api/v1/sessions/crud-1/chat', { message: 'hi' }],
      ['POST', '/api/v1/sessions/crud-1/chat/stream', { message: 'hi' }],
      ['GET', '/api/v1/sessions/crud-1/chat/stream'],
      ['GET', '/api/v1/sessions/crud-1/history'],
      ['POST', '/api/v1/sessions/crud-1/interrupt'],
    ];
    for (const [method, path, json] of routes) {
      const res = await ctx.t.request(path, { method, json, key: BOB });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect(ctx.model.requests.length).toBe(before);
    expect((await ctx.t.request('/api/v1/sessions/crud-1')).status).toBe(200);
  });
});

describe('working directory checks', () => {
  it('accepts a folder inside APPROVED_DIRECTORY and refuses every escape', async () => {
    const s = (await (await ctx.t.request('/api/v1/sessions/crud-2')).json()).data;
    const inside = join(s.workspace, 'inner');
    mkdirSync(inside);
    writeFileSync(join(s.workspace, 'file.txt'), 'x');
    symlinkSync('/etc', join(s.workspace, 'etc-link'));
    const bobs = (await (await ctx.t.request('/api/v1/sessions/bobs-only', { key: BOB })).json()).data;
    const repo = (working_dir: string) =>
      ctx.t.request('/api/v1/sessions/crud-2/repo', { method: 'POST', json: { working_dir } });

    const okRes = await repo(inside);
    expect(okRes.status).toBe(200);
    expect((await okRes.json()).data.working_dir).toBe(inside);

    for (const bad of [
      '/etc',
      '/',
      '..',
      `${ctx.t.dirs.workspaces}/../`,
      join(s.workspace, 'etc-link'),
      join(s.workspace, 'file.txt'),
      join(s.workspace, 'missing'),
      bobs.workspace,
      `${s.workspace}/\u0000x`,
    ]) {
      const body = await problem(await repo(bad), 422);
      expect(body.errors[0].pointer).toBe('/working_dir');
    }
    expect((await (await ctx.t.request('/api/v1/sessions/crud-2')).json()).data.working_dir).toBe(inside);
    expect(
      (await ctx.t.request('/api/v1/sessions/crud-2/repo', { method: 'POST', json: { working_dir: '/etc' }, key: BOB }))
        .status,
    ).toBe(404);
  });

  it('validates working_dir at creation too', async () => {
    const body = await problem(await create({ name: 'escapes', working_dir: '/tmp' }), 422);
    expect(body.errors[0].pointer).toBe('/working_dir');
    expect((await ctx.t.request('/api/v1/sessions/escapes')).status).toBe(404);
  });
});
