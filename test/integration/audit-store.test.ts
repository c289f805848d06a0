// The audit, usage and API key tables on SQLite and PostgreSQL, and the audit rules (actions, tool and denial rows) on their own.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionOf, auditTrailOf, auditTurn, clippedInput, outcomeOf } from '../../src/security/audit.js';
import { createStore, type Store } from '../../src/store/index.js';
import { needs } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';

describe('audit actions', () => {
  it.each([
    ['POST', '/sessions', 'session.create'],
    ['DELETE', '/sessions/:name', 'session.delete'],
    ['POST', '/sessions/:name/chat', 'session.chat'],
    ['POST', '/sessions/:name/chat/stream', 'session.chat_stream'],
    ['POST', '/sessions/:name/repo', 'session.repo'],
    ['POST', '/sessions/:name/jobs', 'job.create'],
    ['POST', '/sessions/:name/jobs/:id/cancel', 'job.cancel'],
    ['DELETE', '/sessions/:name/files/*', 'file.delete'],
    ['POST', '/sessions/:name/things/:id/poke', 'session.things_poke'],
    ['PUT', '/sessions/:name/things/*', 'session.things.update'],
    ['POST', '/mcp', 'mcp.request'],
    ['POST', '/keys', 'key.create'],
    ['DELETE', '/keys/:id', 'key.revoke'],
    ['PATCH', '/templates/:name', 'template.update'],
  ])('%s %s → %s', (method, route, action) => {
    expect(actionOf(method, route)).toBe(action);
  });

  it('outcomes and clipped inputs', () => {
    expect([outcomeOf(201), outcomeOf(404), outcomeOf(503)]).toEqual(['ok', 'rejected', 'failed']);
    expect(clippedInput({ a: 1 })).toEqual({ a: 1 });
    const long = clippedInput({ content: 'x'.repeat(5000) });
    expect(typeof long).toBe('string');
    expect((long as string).length).toBeLessThanOrEqual(2001);
  });
});

const targets: Array<[string, string | undefined, () => Promise<{ url: string; cleanup(): Promise<void> }>]> = [
  ['SQLite', undefined, async () => ({ url: 'sqlite::memory:', cleanup: async () => {} })],
  [
    'PostgreSQL',
    await needs('the PostgreSQL half of the audit and usage store tests', 'postgresql'),
    async () => {
      const db = await createTempDatabase('cca_audit_test');
      return { url: db.url, cleanup: db.drop };
    },
  ],
];

for (const [dialect, missing, open] of targets) {
  describe.skipIf(missing)(`audit, usage and key tables on ${dialect}`, () => {
    let store: Store;
    let cleanup: (() => Promise<void>) | undefined;
    const owner = 'k_00000000000000aa';
    const other = 'k_00000000000000bb';
    const sessionIds = { a: randomUUID(), b: randomUUID(), c: randomUUID() };

    beforeAll(async () => {
      const target = await open();
      cleanup = () => target.cleanup();
      store = await createStore(target.url);
      await store.migrate();
      for (const [id, name, who] of [
        [sessionIds.a, 's-a', owner],
        [sessionIds.b, 's-b', owner],
        [sessionIds.c, 's-c', other],
      ] as const) {
        await store.sessions.create({ id, owner: who, name, workspace: '/w', working_dir: '/w', status: 'active' });
      }
      const turn = async (
        session: string,
        at: string,
        cost: number,
        model: string | null,
        usage: Record<string, number> | null,
      ) => {
        await store.messages.insert({
          session_id: session,
          turn_id: randomUUID(),
          role: 'user',
          content: 'q',
          created_at: at,
        });
        await store.messages.insert({
          session_id: session,
          turn_id: randomUUID(),
          role: 'assistant',
          content: 'a',
          cost_usd: cost,
          model,
          usage,
          created_at: at,
        });
      };
      await turn(sessionIds.a, '2026-01-01T10:00:00.000Z', 0.5, 'claude-x', {
        input_tokens: 10,
        output_tokens: 5,
        cache_read_input_tokens: 100,
        cache_creation_input_tokens: 7,
      });
      await turn(sessionIds.a, '2026-01-02T10:00:00.000Z', 0.25, 'claude-y', {
        input_tokens: 20,
        output_tokens: 6,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      });
      await turn(sessionIds.b, '2026-01-02T11:00:00.000Z', 1, null, null);
      await turn(sessionIds.c, '2026-01-02T12:00:00.000Z', 4, 'claude-x', {
        input_tokens: 1000,
        output_tokens: 1000,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      });
    });

    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    it('usage sums by owner, session, model and day, over a time range', async () => {
      expect(store.dialect).toBe(dialect === 'SQLite' ? 'sqlite' : 'postgres');
      const bySession = await store.usage.summarize({ owner, groupBy: 'session' });
      expect(bySession).toEqual([
        {
          key: 's-a',
          owner,
          cost_usd: 0.75,
          input_tokens: 30,
          output_tokens: 11,
          cache_read_tokens: 100,
          cache_creation_tokens: 7,
          turns: 2,
        },
        {
          key: 's-b',
          owner,
          cost_usd: 1,
          input_tokens: 0,
          output_tokens: 0,
          cache_read_tokens: 0,
          cache_creation_tokens: 0,
          turns: 1,
        },
      ]);
      const byModel = await store.usage.summarize({ owner: null, groupBy: 'model' });
      expect(byModel.map((g) => [g.key, g.turns, g.input_tokens])).toEqual(
        expect.arrayContaining([
          [null, 1, 0],
          ['claude-x', 2, 1010],
          ['claude-y', 1, 20],
        ]),
      );
      const byDay = await store.usage.summarize({ owner, groupBy: 'day' });
      expect(byDay.map((g) => [g.key, g.turns])).toEqual([
        ['2026-01-01', 1],
        ['2026-01-02', 2],
      ]);
      const byOwner = await store.usage.summarize({ owner: null, groupBy: 'owner' });
      expect(byOwner.map((g) => [g.key, g.turns, g.cost_usd])).toEqual([
        [owner, 3, 1.75],
        [other, 1, 4],
      ]);
      const ranged = await store.usage.summarize({
        owner,
        groupBy: 'day',
        from: '2026-01-02T00:00:00.000Z',
        to: '2026-01-02T10:30:00.000Z',
      });
      expect(ranged.map((g) => [g.key, g.turns])).toEqual([['2026-01-02', 1]]);
      expect(await store.usage.summarize({ owner: 'k_nobody', groupBy: 'session' })).toEqual([]);
    });

    it('audit rows: tool and denial rows of a turn, filters, pagination, tenancy', async () => {
      await auditTurn(store, sessionIds.a, 'turn-1', {
        tools_used: [{ name: 'Read', input: { file_path: '/etc/passwd' } }],
        denials: [{ tool: 'Read', input: { file_path: '/etc/passwd' }, reason: 'outside the workspace' }],
      });
      await auditTurn(store, sessionIds.c, 'turn-2', { tools_used: [{ name: 'Bash', input: { command: 'ls' } }] });
      await auditTurn(store, sessionIds.c, 'turn-3', { tools_used: [] });
      await auditTrailOf(store).flush();
      const mine = await store.audit.list({ tenant: owner }, { offset: 0, limit: 10 });
      expect(mine.total).toBe(2);
      const deny = mine.items.find((r) => r.action === 'tool.deny');
      expect(deny).toMatchObject({
        tenant: owner,
        session: 's-a',
        outcome: 'denied',
        resource: 'sessions/s-a',
        status: null,
        key_id: null,
        detail: {
          tool: 'Read',
          reason: 'outside the workspace',
          turn_id: 'turn-1',
          input: { file_path: '/etc/passwd' },
        },
      });
      expect((await store.audit.list({ tenant: null }, { offset: 0, limit: 10 })).total).toBe(3);
      expect((await store.audit.list({ tenant: null, action: 'tool.use' }, { offset: 0, limit: 10 })).total).toBe(2);
      expect((await store.audit.list({ tenant: other, session: 's-a' }, { offset: 0, limit: 10 })).total).toBe(0);
      const page = await store.audit.list({ tenant: null }, { offset: 1, limit: 1 });
      expect(page.items).toHaveLength(1);
      expect(page.total).toBe(3);
      expect(
        (await store.audit.list({ tenant: null, to: '2000-01-01T00:00:00.000Z' }, { offset: 0, limit: 10 })).total,
      ).toBe(0);
    });

    it('api keys: create, find by hash and tenant, count active, revoke, touch', async () => {
      const row = await store.apiKeys.create({
        id: 'key_0123456789abcdef',
        name: 'n',
        scope: 'user',
        tenant: 'k_0123456789abcdef',
        hash: 'ab'.repeat(32),
        prefix: 'cca_abcd',
        rate_limit: 5,
        budget_usd: 1.5,
      });
      expect(row).toMatchObject({ rate_limit: 5, budget_usd: 1.5, revoked_at: null, last_used_at: null });
      expect((await store.apiKeys.findByHash('ab'.repeat(32)))?.id).toBe(row.id);
      expect((await store.apiKeys.findByTenant('k_0123456789abcdef'))?.id).toBe(row.id);
      expect(await store.apiKeys.countActive()).toBe(1);
      await store.apiKeys.touch(row.id, '2026-02-02T00:00:00.000Z');
      const revoked = await store.apiKeys.revoke(row.id, '2026-02-03T00:00:00.000Z');
      expect(revoked).toMatchObject({
        last_used_at: '2026-02-02T00:00:00.000Z',
        revoked_at: '2026-02-03T00:00:00.000Z',
      });
      expect((await store.apiKeys.revoke(row.id))?.revoked_at).toBe('2026-02-03T00:00:00.000Z');
      expect(await store.apiKeys.countActive()).toBe(0);
      expect(await store.apiKeys.revoke('key_ffffffffffffffff')).toBeUndefined();
      await expect(store.apiKeys.create({ ...row, id: 'key_other0000000000' })).rejects.toThrow(/already exists/);
    });
  });
}
