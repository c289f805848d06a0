// Audit, usage and token counts through the real CLI: rows for create/chat/delete and tool calls, filters, tenancy, sums matching history.
import { beforeAll, describe, expect, it } from 'vitest';
import { tenantOf } from '../../src/security/api-keys.js';
import { useTestServer } from '../support/fixture.js';
import { tokensOf } from '../support/model-server.js';
import { KEYS } from '../support/server.js';
import { readSse } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { createSession } from '../support/sessions.js';

const ADMIN = 'audit-admin-key-0001';
const [ALICE, BOB] = KEYS;
const envId = (key: string) => `env_${tenantOf(key).slice(2)}`;

const ctx = useTestServer({ ADMIN_API_KEYS: ADMIN });

beforeAll(async () => {
  ctx.model.script({
    match: 'audit-write-file',
    steps: [
      { tool: { name: 'Write', input: { file_path: '{{cwd}}/audited.txt', content: 'audited\n' } } },
      { text: 'Wrote it.' },
    ],
  });
});

type Row = Record<string, any>;
async function audit(query: string, key: string = ALICE): Promise<{ data: Row[]; meta: any }> {
  const res = await ctx.t.request(`/api/v1/audit${query}`, { key });
  expect(res.status).toBe(200);
  return res.json();
}
/** Audit rows are written after the response: wait until `count` rows match. */
const rowsOf = (query: string, count: number, key: string = ALICE) =>
  eventually(
    async () => {
      const body = await audit(query, key);
      return body.data.length >= count ? body.data : undefined;
    },
    10_000,
    `${count} audit rows for ${query}`,
  );

describe('audit trail', () => {
  let createRequestId: string;
  let chatRequestId: string;

  it('a session create is a row: time, key, tenant, action, resource, status, request id, IP', async () => {
    const before = new Date().toISOString();
    const res = await ctx.t.request('/api/v1/sessions', {
      method: 'POST',
      json: { name: 'aud-1' },
      headers: { 'x-request-id': 'aud-create-1' },
    });
    expect(res.status).toBe(201);
    createRequestId = res.headers.get('x-request-id')!;
    expect(createRequestId).toBe('aud-create-1');
    const [row] = await rowsOf('?action=session.create', 1);
    expect(row).toMatchObject({
      key_id: envId(ALICE),
      tenant: tenantOf(ALICE),
      action: 'session.create',
      resource: 'sessions/aud-1',
      session: 'aud-1',
      status: 201,
      outcome: 'ok',
      request_id: 'aud-create-1',
      ip: '127.0.0.1',
      method: 'POST',
      route: '/api/v1/sessions',
    });
    expect(row!.at >= before).toBe(true);
  });

  it("a chat with a tool call: a session.chat row and a tool.use row carrying the chat's key and request id", async () => {
    const res = await ctx.t.request('/api/v1/sessions/aud-1/chat', {
      method: 'POST',
      json: { message: 'please audit-write-file' },
      headers: { 'x-request-id': 'aud-chat-1' },
    });
    expect(res.status).toBe(200);
    chatRequestId = 'aud-chat-1';
    const [chat] = await rowsOf('?action=session.chat', 1);
    expect(chat).toMatchObject({
      action: 'session.chat',
      session: 'aud-1',
      status: 200,
      request_id: chatRequestId,
      route: '/api/v1/sessions/:name/chat',
    });
    const [tool] = await rowsOf('?action=tool.use', 1);
    expect(tool).toMatchObject({
      action: 'tool.use',
      key_id: envId(ALICE),
      tenant: tenantOf(ALICE),
      session: 'aud-1',
      resource: 'sessions/aud-1',
      status: null,
      outcome: 'ok',
      request_id: chatRequestId,
      ip: '127.0.0.1',
      detail: { tool: 'Write', input: { content: 'audited\n' } },
    });
    expect(tool!.detail.input.file_path).toMatch(/audited\.txt$/);
    expect(tool!.detail.turn_id).toEqual(expect.any(String));
  });

  it('a tool call the workspace policy denies is a tool.deny row with the reason', async () => {
    ctx.model.script({
      match: 'audit-read-outside',
      steps: [{ tool: { name: 'Read', input: { file_path: '/etc/passwd' } } }, { text: 'Could not read it.' }],
    });
    const res = await ctx.t.request('/api/v1/sessions/aud-1/chat', {
      method: 'POST',
      json: { message: 'please audit-read-outside' },
      headers: { 'x-request-id': 'aud-deny-1' },
    });
    expect(res.status).toBe(200);
    const [deny] = await rowsOf('?action=tool.deny', 1);
    expect(deny).toMatchObject({
      action: 'tool.deny',
      outcome: 'denied',
      key_id: envId(ALICE),
      tenant: tenantOf(ALICE),
      session: 'aud-1',
      request_id: 'aud-deny-1',
      detail: { tool: 'Read', input: { file_path: '/etc/passwd' }, reason: expect.any(String) },
    });
    expect(deny!.detail.reason.length).toBeGreaterThan(0);
  });

  it('a streamed chat is a session.chat_stream row', async () => {
    const res = await ctx.t.request('/api/v1/sessions/aud-1/chat/stream', {
      method: 'POST',
      json: { message: 'just say hi' },
    });
    expect(res.status).toBe(200);
    await readSse(res).all();
    const [row] = await rowsOf('?action=session.chat_stream', 1);
    expect(row).toMatchObject({ status: 200, outcome: 'ok', session: 'aud-1' });
  });

  it("refused requests are rows too (4xx = rejected), and the failed key's rows are only the admin's to see", async () => {
    expect((await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name: 'bad name!' } })).status).toBe(422);
    const [bad] = await rowsOf('?action=session.create&limit=1', 1);
    expect(bad).toMatchObject({ status: 422, outcome: 'rejected', key_id: envId(ALICE) });

    expect(
      (
        await ctx.t.request('/api/v1/sessions', {
          method: 'POST',
          json: { name: 'x' },
          key: 'not-a-key-at-all',
          headers: { 'x-request-id': 'aud-401' },
        })
      ).status,
    ).toBe(401);
    // A refused key is a security event: its row is written before the 401 goes out, so it is there at once.
    const anon = (await audit('?action=session.create', ADMIN)).data.filter((r) => r.request_id === 'aud-401');
    expect(anon).toEqual([
      expect.objectContaining({
        key_id: null,
        tenant: null,
        status: 401,
        outcome: 'rejected',
        detail: { problem: '/problems/invalid-api-key' },
      }),
    ]);
    // So is a read with a bad key, and a user key on an admin route.
    const read = await ctx.t.request('/api/v1/sessions', {
      key: 'not-a-key-either',
      headers: { 'x-request-id': 'aud-401-get' },
    });
    expect(read.status).toBe(401);
    const forbidden = await ctx.t.request('/api/v1/keys', { headers: { 'x-request-id': 'aud-403' } });
    expect(forbidden.status).toBe(403);
    const rows = (await audit('?limit=100', ADMIN)).data;
    expect(rows.find((r) => r.request_id === 'aud-401-get')).toMatchObject({
      action: 'session.get',
      method: 'GET',
      status: 401,
      detail: { problem: '/problems/invalid-api-key' },
    });
    expect(rows.find((r) => r.request_id === 'aud-403')).toMatchObject({
      key_id: envId(ALICE),
      status: 403,
      detail: { problem: '/problems/admin-only' },
    });
    expect((await audit('?limit=100')).data.some((r) => r.request_id === 'aud-401')).toBe(false);
  });

  it('a delete is a row; filters by action, session, key and time range; pagination', async () => {
    await createSession(ctx.t, 'aud-2');
    // Rows are written after the response: split the time range just after the create row as stored.
    const [created] = await rowsOf('?session=aud-2', 1);
    const midMs = Date.parse(created!.at) + 1;
    const mid = new Date(midMs).toISOString();
    await eventually(() => Date.now() > midMs, 1_000, 'the clock to pass the split point');
    expect((await ctx.t.request('/api/v1/sessions/aud-2', { method: 'DELETE' })).status).toBe(204);
    const [del] = await rowsOf('?action=session.delete', 1);
    expect(del).toMatchObject({
      status: 204,
      session: 'aud-2',
      resource: 'sessions/aud-2',
      route: '/api/v1/sessions/:name',
    });

    const forSession = (await audit('?session=aud-2')).data;
    expect(forSession.map((r) => r.action).sort()).toEqual(['session.create', 'session.delete']);
    const afterMid = (await audit(`?session=aud-2&from=${encodeURIComponent(mid)}`)).data;
    expect(afterMid.map((r) => r.action)).toEqual(['session.delete']);
    const beforeMid = (await audit(`?session=aud-2&to=${encodeURIComponent(mid)}`)).data;
    expect(beforeMid.map((r) => r.action)).toEqual(['session.create']);
    expect((await audit(`?key_id=${envId(ALICE)}&limit=100`)).data.every((r) => r.key_id === envId(ALICE))).toBe(true);
    expect((await audit(`?key_id=${envId(BOB)}`)).data).toEqual([]);

    const page1 = await audit('?limit=2');
    const page2 = await audit('?limit=2&page=2');
    expect(page1.meta.pagination).toMatchObject({ page: 1, limit: 2 });
    expect(page1.meta.pagination.total).toBeGreaterThanOrEqual(6);
    expect(page1.data[0]!.id).toBeGreaterThan(page1.data[1]!.id);
    expect(page1.data[1]!.id).toBeGreaterThan(page2.data[0]!.id);
  });

  it('bad filters are 422 problems', async () => {
    for (const q of ['?from=yesterday', '?to=2026-13-45T00:00:00Z', '?limit=0', '?page=0', '?action=']) {
      const res = await ctx.t.request(`/api/v1/audit${q}`);
      expect(res.status, q).toBe(422);
    }
  });

  it("tenancy: another user key sees none of these rows; an admin sees every tenant's", async () => {
    await createSession(ctx.t, 'bob-1', {}, BOB);
    const bobs = await rowsOf('?limit=100', 1, BOB);
    expect(bobs.every((r) => r.tenant === tenantOf(BOB))).toBe(true);
    expect((await audit('?session=aud-1', BOB)).data).toEqual([]);
    const all = (await audit('?limit=100', ADMIN)).data;
    const tenants = new Set(all.map((r) => r.tenant));
    expect(tenants.has(tenantOf(ALICE))).toBe(true);
    expect(tenants.has(tenantOf(BOB))).toBe(true);
    const asAlice = (
      await ctx.t.request('/api/v1/audit?limit=100', { key: ADMIN, headers: { 'x-tenant': tenantOf(ALICE) } })
    ).json();
    expect((await asAlice).data.every((r: Row) => r.tenant === tenantOf(ALICE))).toBe(true);
  });
});

describe('usage', () => {
  type Sums = {
    cost_usd: number;
    input_tokens: number;
    output_tokens: number;
    cache_read_tokens: number;
    cache_creation_tokens: number;
    turns: number;
  };

  async function historySums(
    session: string,
    key: string = ALICE,
  ): Promise<Sums & { models: string[]; days: string[] }> {
    const rows: Row[] = (await (await ctx.t.request(`/api/v1/sessions/${session}/history?limit=100`, { key })).json())
      .data;
    const assistant = rows.filter((r) => r.role === 'assistant');
    return {
      cost_usd: assistant.reduce((s, r) => s + (r.cost_usd ?? 0), 0),
      input_tokens: assistant.reduce((s, r) => s + (r.usage?.input_tokens ?? 0), 0),
      output_tokens: assistant.reduce((s, r) => s + (r.usage?.output_tokens ?? 0), 0),
      cache_read_tokens: assistant.reduce((s, r) => s + (r.usage?.cache_read_input_tokens ?? 0), 0),
      cache_creation_tokens: assistant.reduce((s, r) => s + (r.usage?.cache_creation_input_tokens ?? 0), 0),
      turns: assistant.length,
      models: [...new Set(assistant.map((r) => r.model))],
      days: [...new Set(assistant.map((r) => String(r.created_at).slice(0, 10)))],
    };
  }
  const usage = async (query: string, key: string = ALICE) => {
    const res = await ctx.t.request(`/api/v1/usage${query}`, { key });
    expect(res.status).toBe(200);
    return (await res.json()).data;
  };
  const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(1e-9);

  it('sums by session, model, day and key match the history', async () => {
    const h = await historySums('aud-1');
    expect(h.turns).toBe(3);
    expect(h.input_tokens).toBeGreaterThan(0);

    const bySession = await usage('?group_by=session');
    expect(bySession.groups).toHaveLength(1);
    const g = bySession.groups[0];
    expect(g).toMatchObject({
      group: 'aud-1',
      owner: tenantOf(ALICE),
      turns: 3,
      input_tokens: h.input_tokens,
      output_tokens: h.output_tokens,
      cache_read_tokens: h.cache_read_tokens,
      cache_creation_tokens: h.cache_creation_tokens,
    });
    close(g.cost_usd, h.cost_usd);
    expect(bySession.totals.turns).toBe(3);

    const byModel = await usage('?group_by=model');
    expect(byModel.groups.map((x: Row) => x.group)).toEqual(h.models);
    expect(byModel.totals.input_tokens).toBe(h.input_tokens);

    const byDay = await usage('?group_by=day');
    expect(byDay.groups.map((x: Row) => x.group)).toEqual(h.days);

    const byKey = await usage('?group_by=key');
    expect(byKey.groups).toEqual([
      expect.objectContaining({ group: envId(ALICE), owner: tenantOf(ALICE), key_name: 'API_KEYS[0]', turns: 3 }),
    ]);
  });

  it('a time range narrows the sums; a user key sees only its own tenant; an admin sees all keys', async () => {
    expect((await usage(`?to=${encodeURIComponent('2000-01-01T00:00:00Z')}`)).totals.turns).toBe(0);
    expect((await usage(`?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).totals.turns).toBe(
      0,
    );
    expect((await usage(`?from=${encodeURIComponent('2000-01-01T00:00:00Z')}`)).totals.turns).toBe(3);

    const bobChat = await ctx.t.request('/api/v1/sessions/bob-1/chat', {
      method: 'POST',
      json: { message: 'hello from bob' },
      key: BOB,
    });
    expect(bobChat.status).toBe(200);
    const bob = await usage('?group_by=session', BOB);
    expect(bob.groups.map((x: Row) => x.group)).toEqual(['bob-1']);
    expect(bob.totals.turns).toBe(1);
    expect((await usage('?group_by=session')).groups.map((x: Row) => x.group)).toEqual(['aud-1']);

    const admin = await usage('?group_by=key', ADMIN);
    const groups = Object.fromEntries(admin.groups.map((x: Row) => [x.group, x.turns]));
    expect(groups).toEqual({ [envId(ALICE)]: 3, [envId(BOB)]: 1 });
    expect(admin.totals.turns).toBe(4);
  });

  it('a bad group_by or time is a 422', async () => {
    for (const q of ['?group_by=planet', '?from=soon'])
      expect((await ctx.t.request(`/api/v1/usage${q}`)).status).toBe(422);
  });
});

describe('token counts', () => {
  it("are exact through the Messages API's count_tokens with Claude Code's credentials", async () => {
    const messages = [{ role: 'user', content: 'count-these-tokens please, all of them' }];
    const res = await ctx.t.request('/api/v1/tokens/count', {
      method: 'POST',
      json: { model: 'claude-sonnet-4-5', system: 'Be brief.', messages },
    });
    expect(res.status).toBe(200);
    const data = (await res.json()).data;
    const expected = tokensOf(JSON.stringify({ model: 'claude-sonnet-4-5', messages, system: 'Be brief.' }));
    expect(data).toEqual({
      input_tokens: expected,
      estimated: false,
      model: 'claude-sonnet-4-5',
      source: 'count_tokens_api',
    });
    const seen = await ctx.model.waitFor(
      (r) => r.path === '/v1/messages/count_tokens' && JSON.stringify(r.body).includes('count-these-tokens'),
    );
    expect(seen.headers['x-api-key']).toBe('test');
    expect(seen.headers['anthropic-version']).toBe('2023-06-01');
  });

  it('the `message` shorthand and model aliases work; sending both or neither is a 422', async () => {
    const res = await ctx.t.request('/api/v1/tokens/count', {
      method: 'POST',
      json: { message: 'short one', model: 'sonnet' },
    });
    expect((await res.json()).data).toMatchObject({ estimated: false, model: 'claude-sonnet-4-5' });
    expect((await ctx.t.request('/api/v1/tokens/count', { method: 'POST', json: {} })).status).toBe(422);
    const counted = await rowsOf('?action=tokens.count', 3);
    expect(counted.map((r) => r.status)).toEqual([422, 200, 200]);
    expect(counted[1]).toMatchObject({ key_id: envId(ALICE), method: 'POST', route: '/api/v1/tokens/count' });
    expect(
      (
        await ctx.t.request('/api/v1/tokens/count', {
          method: 'POST',
          json: { message: 'a', messages: [{ role: 'user', content: 'b' }] },
        })
      ).status,
    ).toBe(422);
  });
});
