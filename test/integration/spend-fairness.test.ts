// Spend and fairness through the real CLI: a key's spend survives deleting its sessions, every way into a turn checks the acting key's budget (jobs and stdio MCP included), parallel turns reserve before they run, and one key flooding turns or processes does not starve another.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tenantOf } from '../../src/security/api-keys.js';
import { keyAccount, tenantAccount } from '../../src/store/index.js';
import { useTestServer } from '../support/fixture.js';
import { createSession } from '../support/sessions.js';
import { stdioMcpTransport } from '../support/mcp-stdio.js';
import { waitForNoCliProcesses } from '../support/processes.js';
import { KEYS } from '../support/server.js';
import { eventually } from '../support/wait.js';

const ADMIN = 'test-admin-key-0003';
const ctx = useTestServer({ ADMIN_API_KEYS: ADMIN });

const api = (path: string, init: { method?: string; json?: unknown; key?: string } = {}) =>
  ctx.t.request(`/api/v1${path}`, { method: init.method ?? 'GET', json: init.json, key: init.key ?? KEYS[0] });

const chat = async (name: string, message: string, key: string) => {
  const res = await api(`/sessions/${name}/chat`, { method: 'POST', json: { message }, key });
  return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after') };
};

const holding = (prompt: string) => ctx.model.mainRequests().filter((r) => r.prompt?.includes(prompt)).length;

beforeAll(() => {
  // Two model calls (a Write, then text): about $0.04 against the scripted model.
  ctx.model.script({
    match: 'two-calls',
    steps: [
      { text: 'PARTIAL', tool: { name: 'Write', input: { file_path: 'note.txt', content: 'x' } } },
      { text: 'DONE' },
    ],
  });
  // A turn that stays running (the model never answers) until it is interrupted.
  ctx.model.script({ match: 'hold-the-line', steps: [{ hang: true }] });
});

afterEach(async () => {
  // Nothing of one test keeps running into the next.
  for (const key of [KEYS[0], KEYS[1]]) {
    const list = await (await api('/sessions?limit=100', { key })).json();
    for (const s of list.data ?? []) await api(`/sessions/${s.name}/interrupt`, { method: 'POST', key });
  }
  await eventually(
    () => ctx.t.server.engine.stats().turns_running + ctx.t.server.engine.stats().turns_waiting === 0,
    60_000,
    'no turn left',
  );
});

describe('spend ledger', () => {
  it("keeps a key's spend when its sessions are deleted: the limit still holds", async () => {
    await ctx.t.restart({ CLAUDE_MAX_COST_PER_USER: '0.03' });
    await createSession(ctx.t, 'spender', {}, KEYS[0]);
    expect((await chat('spender', 'two-calls please', KEYS[0])).status).toBe(200);
    const tenant = tenantOf(KEYS[0]);
    const spent = await ctx.t.server.store.spend.total(tenantAccount(tenant));
    expect(spent).toBeGreaterThan(0.03);
    expect((await api('/sessions/spender?purge=true', { method: 'DELETE' })).status).toBe(204);

    await createSession(ctx.t, 'fresh-start', {}, KEYS[0]);
    const asked = ctx.model.mainRequests().length;
    const refused = await chat('fresh-start', 'two-calls please', KEYS[0]);
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ type: '/problems/key-budget-exceeded', limit_usd: 0.03 });
    expect(refused.body.spent_usd).toBeCloseTo(spent, 6);
    expect(ctx.model.mainRequests().length).toBe(asked);
    const rows = await ctx.t.server.store.spend.listByTenant(tenant);
    expect(rows.map((r) => r.session_name)).toContain('spender');
    expect(await ctx.t.server.store.spend.sum({ tenant })).toBeCloseTo(spent, 10);
  });

  it("checks a created key's own budget on every way into a turn: chat, stream, MCP and jobs (queued or new)", async () => {
    await ctx.t.restart({});
    const created = await api('/keys', { method: 'POST', key: ADMIN, json: { name: 'frugal', budget_usd: 0.03 } });
    expect(created.status).toBe(201);
    const { id: keyId, secret } = (await created.json()).data;
    await createSession(ctx.t, 'jobs', {}, secret);
    // Both jobs are accepted while nothing is spent; they run one after the other on the session.
    const job = (message: string) => api('/sessions/jobs/jobs', { method: 'POST', key: secret, json: { message } });
    const first = await job('two-calls please');
    const second = await job('two-calls again');
    expect([first.status, second.status]).toEqual([202, 202]);
    const [j1, j2] = [(await first.json()).data.id, (await second.json()).data.id];
    const final = (id: string) =>
      eventually(
        async () => {
          const j = (await (await api(`/sessions/jobs/jobs/${id}`, { key: secret })).json()).data;
          return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
        },
        120_000,
        `job ${id} to end`,
      );
    // `done` is the seed's name for a job that succeeded.
    expect((await final(j1)).status).toBe('done');
    const failed = await final(j2);
    expect(failed).toMatchObject({ status: 'failed', error: { type: '/problems/key-budget-exceeded', status: 429 } });
    expect(await ctx.t.server.store.spend.total(keyAccount(keyId))).toBeGreaterThan(0.03);

    // Now every way in is refused before Claude is asked.
    const asked = ctx.model.mainRequests().length;
    const third = await job('two-calls once more');
    expect(third.status).toBe(429);
    expect((await third.json()).type).toBe('/problems/key-budget-exceeded');
    expect((await chat('jobs', 'hello', secret)).body.type).toBe('/problems/key-budget-exceeded');
    const stream = await api('/sessions/jobs/chat/stream', { method: 'POST', key: secret, json: { message: 'hi' } });
    expect(stream.status).toBe(429);
    const mcp = await ctx.t.request('/mcp', {
      method: 'POST',
      key: secret,
      headers: { accept: 'application/json, text/event-stream' },
      json: {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'chat', arguments: { name: 'jobs', message: 'hi' } },
      },
    });
    expect(await mcp.text()).toContain('key-budget-exceeded');
    expect(ctx.model.mainRequests().length).toBe(asked);
  });

  it("applies MCP_API_KEY's own budget to the turns of the stdio MCP server", async () => {
    await ctx.t.restart({});
    const created = await api('/keys', { method: 'POST', key: ADMIN, json: { name: 'stdio', budget_usd: 0.01 } });
    const { secret } = (await created.json()).data;
    await createSession(ctx.t, 'stdio-spent', {}, secret);
    expect((await chat('stdio-spent', 'two-calls please', secret)).status).toBe(200);
    const configDir = join(ctx.t.cli.dir, 'stdio-budget-claude');
    mkdirSync(configDir);
    const transport = stdioMcpTransport(ctx.t, {
      API_KEYS: KEYS.join(','),
      MCP_API_KEY: secret,
      CLAUDE_CONFIG_DIR: configDir,
    });
    const client = new Client({ name: 'stdio-budget', version: '1.0.0' });
    try {
      await client.connect(transport);
      const asked = ctx.model.mainRequests().length;
      const answer = (await client.callTool({
        name: 'chat',
        arguments: { name: 'stdio-spent', message: 'two-calls again' },
      })) as CallToolResult;
      expect(answer.isError).toBe(true);
      expect(answer.structuredContent).toMatchObject({
        problem: { type: '/problems/key-budget-exceeded', status: 429 },
      });
      expect(ctx.model.mainRequests().length).toBe(asked);
    } finally {
      await client.close();
    }
    await waitForNoCliProcesses({ configDir });
  });

  it('lets parallel turns of one key hold at most its limit: the rest are refused (429, Retry-After) until a turn settles', async () => {
    // $0.10 limit, $0.05 a turn: two turns hold it all.
    await ctx.t.restart({ CLAUDE_MAX_COST_PER_REQUEST: '0.05', CLAUDE_MAX_COST_PER_USER: '0.1' });
    const key = KEYS[1];
    const names = ['par-1', 'par-2', 'par-3', 'par-4'];
    for (const n of names) await createSession(ctx.t, n, {}, key);
    const before = holding('hold-the-line');
    const answered: Awaited<ReturnType<typeof chat>>[] = [];
    const turns = names.map((n) => chat(n, 'hold-the-line please', key).then((r) => (answered.push(r), r)));
    // The two admitted turns reach the model and stay there (it never answers); the other two are answered.
    await eventually(() => holding('hold-the-line') - before >= 2, 60_000, 'two turns at the model');
    await eventually(() => answered.length >= 2, 60_000, 'two answers');
    const refused = [...answered];
    expect(refused.length).toBe(2);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body.type).toBe('/problems/key-budget-exceeded');
      expect(r.body.detail).toContain('running turns hold');
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    expect(ctx.t.server.engine.stats().turns_running).toBe(2);
    for (const n of names) await api(`/sessions/${n}/interrupt`, { method: 'POST', key });
    await Promise.all(turns);
    // Their holds are gone with them: the key turns again (one model call, within the $0.05 cap).
    const again = await chat('par-1', 'hello again', key);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    const tenant = tenantOf(key);
    const total = await ctx.t.server.store.spend.total(tenantAccount(tenant));
    expect(total).toBeLessThanOrEqual(0.1 + 0.05);
    expect(await ctx.t.server.store.spend.sum({ tenant })).toBeCloseTo(total, 10);
  });
});

/** Two turn slots, one per key; a waiting turn waits long enough for the test to end it. */
const ONE_TURN_PER_KEY = {
  MAX_CONCURRENT_TURNS: '2',
  MAX_CONCURRENT_TURNS_PER_KEY: '1',
  TURN_QUEUE_TIMEOUT_SECONDS: '120',
};

describe('fair shares', () => {
  it("starts another key's turn at once while one key floods turns and jobs past its share", async () => {
    await ctx.t.restart(ONE_TURN_PER_KEY);
    const [a, b] = KEYS;
    for (const n of ['flood-1', 'flood-2', 'flood-3', 'flood-4']) await createSession(ctx.t, n, {}, a);
    await createSession(ctx.t, 'steady', {}, b);
    const before = holding('hold-the-line');
    const flood = ['flood-1', 'flood-2', 'flood-3'].map((n) => chat(n, 'hold-the-line please', a));
    const job = await api('/sessions/flood-4/jobs', { method: 'POST', key: a, json: { message: 'hold-the-line job' } });
    expect(job.status).toBe(202);
    await eventually(() => holding('hold-the-line') - before >= 1, 60_000, "the flooding key's first turn");
    await eventually(() => ctx.t.server.engine.stats().turns_waiting >= 3, 60_000, "the flooding key's backlog");
    expect(ctx.t.server.engine.stats().turns_running).toBe(1);

    // One slot is free, and key B takes it though A's backlog came first.
    const steady = await chat('steady', 'hello from the other key', b);
    expect(steady.status).toBe(200);
    expect(steady.body.data.content).toContain('echo: hello from the other key');
    expect(holding('hold-the-line') - before).toBe(1);
    expect(ctx.t.server.engine.stats().turns_waiting).toBe(3);

    for (const n of ['flood-1', 'flood-2', 'flood-3', 'flood-4'])
      await api(`/sessions/${n}/interrupt`, { method: 'POST', key: a });
    await Promise.all(flood);
  });

  it("runs another key's job while one key's queued jobs wait at its share", async () => {
    // JOB_CONCURRENCY follows MAX_CONCURRENT_TURNS (2): without per-key shares A's jobs would fill the worker.
    await ctx.t.restart(ONE_TURN_PER_KEY);
    const [a, b] = KEYS;
    const jobOf = async (session: string, message: string, key: string) => {
      await createSession(ctx.t, session, {}, key);
      const res = await api(`/sessions/${session}/jobs`, { method: 'POST', key, json: { message } });
      expect(res.status).toBe(202);
      return (await res.json()).data.id as string;
    };
    const before = holding('hold-the-line');
    const flood = [];
    for (const n of ['job-a-1', 'job-a-2', 'job-a-3']) flood.push(await jobOf(n, 'hold-the-line job', a));
    await eventually(() => holding('hold-the-line') - before >= 1, 60_000, "the flooding key's first job at the model");
    const other = await jobOf('job-b-1', 'hello from a job of the other key', b);
    const done = await eventually(
      async () => {
        const j = (await (await api(`/sessions/job-b-1/jobs/${other}`, { key: b })).json()).data;
        return j.status === 'done' ? j : undefined;
      },
      120_000,
      "the other key's job",
    );
    expect(done.result.content).toContain('echo: hello from a job of the other key');
    // A's other jobs are still queued behind its one running turn.
    expect(holding('hold-the-line') - before).toBe(1);
    const states = await Promise.all(
      flood.map(
        async (id, i) => (await (await api(`/sessions/job-a-${i + 1}/jobs/${id}`, { key: a })).json()).data.status,
      ),
    );
    expect(states.sort()).toEqual(['queued', 'queued', 'running']);
    for (const [i, id] of flood.entries())
      await api(`/sessions/job-a-${i + 1}/jobs/${id}/cancel`, { method: 'POST', key: a });
  });

  it("closes the key's own idle process, not another key's, when it is at its share of live processes", async () => {
    await ctx.t.restart({
      MAX_LIVE_SESSIONS: '3',
      MAX_LIVE_SESSIONS_PER_KEY: '2',
      MAX_CONCURRENT_TURNS: '2',
      MAX_CONCURRENT_TURNS_PER_KEY: '1',
    });
    const [a, b] = KEYS;
    await createSession(ctx.t, 'other-live', {}, b);
    expect((await chat('other-live', 'hello', b)).status).toBe(200);
    for (const n of ['live-1', 'live-2', 'live-3']) {
      await createSession(ctx.t, n, {}, a);
      expect((await chat(n, 'hello', a)).status).toBe(200);
    }
    const live = async (name: string, key: string) =>
      (await (await api(`/sessions/${name}`, { key })).json()).data.live;
    // B's process is the least recently used, but A, at its share, gave up its own oldest.
    expect(await live('other-live', b)).toBe(true);
    expect([await live('live-1', a), await live('live-2', a), await live('live-3', a)]).toEqual([false, true, true]);
  });
});
