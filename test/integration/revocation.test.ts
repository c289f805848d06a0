// A revoke reaches every instance within a second: two servers on one database (a SQLite file, PostgreSQL) and with Redis pub/sub; the key's open stream ends, its queued job fails, and `claude-code-api mcp` refuses its next call.
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { stdioMcpTransport } from '../support/mcp-stdio.js';
import { useModelServer } from '../support/fixture.js';
import { needs, REDIS_TEST_URL } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';
import type { TestServer } from '../support/server.js';
import { readSse } from '../support/sse.js';
import { eventually } from '../support/wait.js';

const ADMIN = 'revocation-admin-key-0001';
const noPostgres = await needs('the PostgreSQL revocation test', 'postgresql');
const noRedis = await needs('the Redis revocation test', 'redis');

const f = useModelServer();

interface Pair {
  a: TestServer;
  b: TestServer;
  close(): Promise<void>;
}

/** Two instances on one database (B uses A's unless `databaseUrl` is given to both). */
async function twoInstances(env: Record<string, string>, databaseUrl?: string): Promise<Pair> {
  const common = { ADMIN_API_KEYS: ADMIN, ...env };
  const a = await f.server({ ...common, ...(databaseUrl && { DATABASE_URL: databaseUrl }) });
  const b = await f.server({ ...common, DATABASE_URL: databaseUrl ?? a.config.databaseUrl });
  return {
    a,
    b,
    async close() {
      await b.cleanup();
      await a.cleanup();
    },
  };
}

/** A stored key made on A; it works on B (and B has its lookup cached). */
async function storedKey(pair: Pair): Promise<{ id: string; secret: string; tenant: string }> {
  const res = await pair.a.request('/api/v1/keys', { method: 'POST', json: { name: 'to revoke' }, key: ADMIN });
  expect(res.status).toBe(201);
  const key = (await res.json()).data;
  expect((await pair.b.request('/api/v1/sessions', { key: key.secret })).status).toBe(200);
  return key;
}

/** Revokes on A and returns how long B took to answer 401 revoked-api-key, ms. */
async function revokeAndTime(pair: Pair, key: { id: string; secret: string }): Promise<number> {
  expect((await pair.a.request(`/api/v1/keys/${key.id}`, { method: 'DELETE', key: ADMIN })).status).toBe(204);
  const revokedAt = performance.now();
  const body = await eventually(
    async () => {
      const res = await pair.b.request('/api/v1/sessions', { key: key.secret });
      return res.status === 401 ? await res.json() : undefined;
    },
    10_000,
    'B refusing the revoked key',
  );
  expect(body.type).toBe('/problems/revoked-api-key');
  return performance.now() - revokedAt;
}

/** The whole check on one pair: an open stream on B ends, a queued job on B fails, B refuses the key, all within 1 s. */
async function revokeEverywhere(pair: Pair): Promise<void> {
  const key = await storedKey(pair);
  const { b } = pair;
  expect((await b.request('/api/v1/sessions', { method: 'POST', json: { name: 'rv' }, key: key.secret })).status).toBe(
    201,
  );
  const prompt = `hang-${randomBytes(4).toString('hex')}`;
  f.model.script({ match: prompt, steps: [{ hang: true }] });
  const streamed = await b.request('/api/v1/sessions/rv/chat/stream', {
    method: 'POST',
    json: { message: prompt },
    key: key.secret,
  });
  expect(streamed.status).toBe(200);
  const stream = readSse(streamed);
  await f.model.waitFor((r) => r.prompt === prompt);
  // Queued behind the running turn of its session.
  const created = await b.request('/api/v1/sessions/rv/jobs', {
    method: 'POST',
    json: { message: 'never runs' },
    key: key.secret,
  });
  expect(created.status).toBe(202);
  const job = (await created.json()).data;
  expect(job.status).toBe('queued');

  const ended = stream.all().then((events) => ({ events, at: performance.now() }));
  const start = performance.now();
  const refusedAfter = await revokeAndTime(pair, key);
  const { events, at } = await ended;
  expect(events.at(-1)).toMatchObject({ event: 'error', data: { problem: { type: '/problems/revoked-api-key' } } });
  // Each instance counts the revoked keys every 0.5 s.
  expect(refusedAfter).toBeLessThan(1000);
  expect(at - start).toBeLessThan(1000);

  const failed = await eventually(
    async () => {
      const res = await pair.a.request(`/api/v1/sessions/rv/jobs/${job.id}`, {
        key: ADMIN,
        headers: { 'x-tenant': key.tenant },
      });
      const view = (await res.json()).data;
      return view.status === 'failed' ? view : undefined;
    },
    10_000,
    'the queued job failing',
  );
  expect(failed.error).toMatchObject({ type: '/problems/revoked-api-key', status: 401 });
  // And every way into a turn is closed to it, on both instances.
  for (const server of [pair.a, b])
    for (const path of ['chat', 'chat/stream', 'jobs']) {
      const res = await server.request(`/api/v1/sessions/rv/${path}`, {
        method: 'POST',
        json: { message: 'after the revoke' },
        key: key.secret,
      });
      expect(res.status, path).toBe(401);
      expect((await res.json()).type).toBe('/problems/revoked-api-key');
    }
  expect(f.model.requests.some((r) => r.prompt === 'after the revoke')).toBe(false);
}

describe('a revoke on one instance', () => {
  it('reaches another instance on the same SQLite file within a second', async () => {
    const pair = await twoInstances({});
    try {
      await revokeEverywhere(pair);
    } finally {
      await pair.close();
    }
  }, 120_000);

  it.skipIf(noPostgres)(
    'reaches another instance on the same PostgreSQL database within a second',
    async () => {
      const db = await createTempDatabase('cca_revoke');
      const pair = await twoInstances({}, db.url);
      try {
        await revokeEverywhere(pair);
      } finally {
        await pair.close();
        await db.drop();
      }
    },
    120_000,
  );

  it.skipIf(noRedis)(
    'reaches another instance at once through Redis pub/sub (the database check slowed to a minute)',
    async () => {
      const pair = await twoInstances({
        REDIS_URL: REDIS_TEST_URL,
        REDIS_KEY_PREFIX: `cca-revoke-${randomBytes(4).toString('hex')}:`,
        KEY_REVOCATION_CHECK_SECONDS: '60',
      });
      try {
        const key = await storedKey(pair);
        expect(await revokeAndTime(pair, key)).toBeLessThan(1000);
      } finally {
        await pair.close();
      }
    },
    120_000,
  );
});

describe('`claude-code-api mcp` (stdio)', () => {
  it('looks its key up again on every call: refused from the first call after a revoke elsewhere', async () => {
    const t = await f.server({ ADMIN_API_KEYS: ADMIN });
    const created = await t.request('/api/v1/keys', { method: 'POST', json: { name: 'mcp' }, key: ADMIN });
    const key = (await created.json()).data;
    const transport = stdioMcpTransport(t, { ADMIN_API_KEYS: ADMIN, MCP_API_KEY: key.secret });
    const client = new Client({ name: 'mcp-revoke-test', version: '1.0.0' });
    try {
      await client.connect(transport);
      const before = await client.callTool({ name: 'list_sessions', arguments: {} });
      const listed = before.content as Array<{ type: string; text: string }>;
      expect(JSON.parse(listed[0]!.text)).toMatchObject({ sessions: [] });
      expect((await t.request(`/api/v1/keys/${key.id}`, { method: 'DELETE', key: ADMIN })).status).toBe(204);
      const after = client.callTool({ name: 'list_sessions', arguments: {} });
      await expect(after).rejects.toMatchObject({ code: -32001, message: expect.stringMatching(/revoked/) });
    } finally {
      await client.close();
      await t.cleanup();
    }
  }, 120_000);
});

describe('MCP over HTTP', () => {
  it('answers a running call of a key revoked meanwhile with the revoke, and its turn is interrupted', async () => {
    const t = await f.server({ ADMIN_API_KEYS: ADMIN });
    const created = await t.request('/api/v1/keys', { method: 'POST', json: { name: 'mcp-http' }, key: ADMIN });
    const key = (await created.json()).data;
    expect(
      (await t.request('/api/v1/sessions', { method: 'POST', json: { name: 'mh' }, key: key.secret })).status,
    ).toBe(201);
    const transport = new StreamableHTTPClientTransport(new URL(`${t.url}/mcp`), {
      requestInit: { headers: { 'x-api-key': key.secret } },
    });
    const client = new Client({ name: 'mcp-http-revoke-test', version: '1.0.0' });
    try {
      await client.connect(transport);
      const prompt = `mcp-hang-${randomBytes(4).toString('hex')}`;
      f.model.script({ match: prompt, steps: [{ hang: true }] });
      const call = client
        .callTool({ name: 'chat', arguments: { name: 'mh', message: prompt } }, undefined, { timeout: 60_000 })
        .then(
          () => 'answered',
          (err: unknown) => err,
        );
      await f.model.waitFor((r) => r.prompt === prompt);
      expect((await t.request(`/api/v1/keys/${key.id}`, { method: 'DELETE', key: ADMIN })).status).toBe(204);
      // The call does not wait for the turn (which hangs for ever): it ends with the revoke.
      expect(await call).toMatchObject({ code: -32001, message: expect.stringMatching(/revoked/) });
      const history = await eventually(
        async () => {
          const res = await t.request('/api/v1/sessions/mh/history', {
            key: ADMIN,
            headers: { 'x-tenant': key.tenant },
          });
          const rows = (await res.json()).data as Array<{ role: string; status: string }>;
          return rows.some((r) => r.role === 'assistant') ? rows : undefined;
        },
        30_000,
        'the interrupted turn in history',
      );
      expect(history.at(-1)).toMatchObject({ role: 'assistant', status: 'interrupted' });
    } finally {
      await client.close().catch(() => undefined);
      await t.cleanup();
    }
  }, 120_000);
});

describe('the running work of a revoked key', () => {
  it('is stopped where it runs: its chat turns are interrupted and its running jobs fail with the revoke', async () => {
    const t = await f.server({ ADMIN_API_KEYS: ADMIN });
    const created = await t.request('/api/v1/keys', { method: 'POST', json: { name: 'running' }, key: ADMIN });
    const key = (await created.json()).data;
    const other = (
      await (await t.request('/api/v1/keys', { method: 'POST', json: { name: 'stays' }, key: ADMIN })).json()
    ).data;
    try {
      for (const [name, secret] of [
        ['rc', key.secret],
        ['rj', key.secret],
        ['ok', other.secret],
      ])
        expect((await t.request('/api/v1/sessions', { method: 'POST', json: { name }, key: secret })).status).toBe(201);
      const tag = randomBytes(4).toString('hex');
      const prompts = { chat: `rv-chat-${tag}`, job: `rv-job-${tag}`, other: `rv-other-${tag}` };
      for (const p of Object.values(prompts)) f.model.script({ match: p, steps: [{ hang: true }] });
      const chat = t.request('/api/v1/sessions/rc/chat', {
        method: 'POST',
        json: { message: prompts.chat },
        key: key.secret,
      });
      const job = (
        await (
          await t.request('/api/v1/sessions/rj/jobs', {
            method: 'POST',
            json: { message: prompts.job },
            key: key.secret,
          })
        ).json()
      ).data;
      const otherChat = t.request('/api/v1/sessions/ok/chat/stream', {
        method: 'POST',
        json: { message: prompts.other },
        key: other.secret,
      });
      for (const p of Object.values(prompts)) await f.model.waitFor((r) => r.prompt === p);

      expect((await t.request(`/api/v1/keys/${key.id}`, { method: 'DELETE', key: ADMIN })).status).toBe(204);
      // The sync chat answers at once with its interrupted turn (the model would hang for ever).
      const answered = await chat;
      expect((await answered.json()).data).toMatchObject({ status: 'interrupted' });
      const asAdmin = { key: ADMIN, headers: { 'x-tenant': key.tenant } };
      const failed = await eventually(
        async () => {
          const view = (await (await t.request(`/api/v1/sessions/rj/jobs/${job.id}`, asAdmin)).json()).data;
          return view.status === 'failed' ? view : undefined;
        },
        30_000,
        'the running job failing',
      );
      expect(failed.error).toMatchObject({ type: '/problems/revoked-api-key', status: 401 });
      expect(failed.error.detail).toMatch(/while the job ran/);
      // Another key's turn runs on.
      const otherStream = readSse(await otherChat);
      const session = (await (await t.request('/api/v1/sessions/ok', { key: other.secret })).json()).data;
      expect(session.busy).toBe(true);
      await t.request('/api/v1/sessions/ok/interrupt', { method: 'POST', key: other.secret });
      expect((await otherStream.all()).at(-1)).toMatchObject({ event: 'result', data: { status: 'interrupted' } });
    } finally {
      await t.cleanup();
    }
  }, 120_000);
});
