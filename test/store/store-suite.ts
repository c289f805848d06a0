// The storage contract every dialect must meet, run once per database by the *.test.ts files beside it.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createStore,
  DuplicateError,
  MissingReferenceError,
  type NewSession,
  type Store,
} from '../../src/store/index.js';

/** A database to run against: its DATABASE_URL and how to throw it away afterwards. */
export interface TestDatabase {
  url: string;
  cleanup: () => Promise<void>;
}

function newSession(owner: string, name: string, extra: Partial<NewSession> = {}): NewSession {
  return {
    id: randomUUID(),
    owner,
    name,
    workspace: 'ws',
    working_dir: `/tmp/ws/${name}`,
    status: 'pending',
    ...extra,
  };
}

/** A fresh owner id per test keeps tests independent inside one shared database. */
const freshOwner = (): string => `owner-${randomUUID()}`;

export function describeStoreSuite(label: string, openDatabase: () => Promise<TestDatabase>): void {
  describe(`store on ${label}`, () => {
    let database: TestDatabase;
    let store: Store;
    let firstMigration: string[];

    beforeAll(async () => {
      database = await openDatabase();
      store = await createStore(database.url);
      firstMigration = await store.migrate();
    });

    afterAll(async () => {
      await store?.close();
      await database?.cleanup();
    });

    it('migrates a fresh database once; migrating again (also from a second store) is a no-op', async () => {
      expect(firstMigration[0]).toBe('0001_sessions_messages');
      expect(await store.migrate()).toEqual([]);
      if (!database.url.endsWith(':memory:')) {
        const second = await createStore(database.url);
        try {
          expect(await second.migrate()).toEqual([]);
        } finally {
          await second.close();
        }
      }
    });

    it('pings while open and reports false once closed', async () => {
      expect(await store.ping()).toBe(true);
      const other = await createStore(database.url);
      expect(await other.ping()).toBe(true);
      await other.close();
      expect(await other.ping()).toBe(false);
    });

    it('creates a session with defaults and finds it by id and by (owner, name)', async () => {
      const owner = freshOwner();
      const created = await store.sessions.create(newSession(owner, 'alpha'));
      expect(created).toMatchObject({
        owner,
        name: 'alpha',
        status: 'pending',
        claude_session_id: null,
        template: null,
        options: {},
        cost_usd: 0,
        turns: 0,
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: 0,
        cache_creation_tokens: 0,
        claude_cost_total: 0,
        last_event_id: 0,
        last_active_at: null,
      });
      expect(new Date(created.created_at).toISOString()).toBe(created.created_at);
      expect(created.updated_at).toBe(created.created_at);
      expect(await store.sessions.findById(created.id)).toEqual(created);
      expect(await store.sessions.findByName(owner, 'alpha')).toEqual(created);
      expect(await store.sessions.findByName(freshOwner(), 'alpha')).toBeUndefined();
      expect(await store.sessions.findById(randomUUID())).toBeUndefined();
    });

    it("lists an owner's sessions newest first, paginated, with the total; null owner lists everyone", async () => {
      const owner = freshOwner();
      const other = freshOwner();
      const allBefore = (await store.sessions.list(null, { offset: 0, limit: 1 })).total;
      for (let i = 0; i < 5; i++) {
        await store.sessions.create(newSession(owner, `s${i}`, { created_at: `2030-01-01T00:00:0${i}.000Z` }));
      }
      await store.sessions.create(newSession(other, 's0'));

      const first = await store.sessions.list(owner, { offset: 0, limit: 2 });
      expect(first.total).toBe(5);
      expect(first.items.map((s) => s.name)).toEqual(['s4', 's3']);
      const last = await store.sessions.list(owner, { offset: 4, limit: 2 });
      expect(last).toMatchObject({ total: 5, items: [{ name: 's0' }] });
      expect((await store.sessions.list(owner, { offset: 10, limit: 2 })).items).toEqual([]);
      expect(await store.sessions.countByOwner(owner)).toBe(5);
      expect(await store.sessions.countByOwner(other)).toBe(1);
      expect(await store.sessions.countByOwner(freshOwner())).toBe(0);

      const everyone = await store.sessions.list(null, { offset: 0, limit: 1000 });
      expect(everyone.total).toBe(allBefore + 6);
      expect(everyone.items.filter((s) => s.owner === owner || s.owner === other)).toHaveLength(6);
      await expect(store.sessions.list(owner, { offset: -1, limit: 2 })).rejects.toThrow(RangeError);
    });

    it("filters an owner's sessions by user: its label, or no label when the user is the owner itself", async () => {
      const owner = freshOwner();
      const other = freshOwner();
      await store.sessions.create(newSession(owner, 'a1', { user_label: 'alice' }));
      await store.sessions.create(newSession(owner, 'a2', { user_label: 'alice' }));
      await store.sessions.create(newSession(owner, 'plain'));
      await store.sessions.create(newSession(other, 'a1', { user_label: 'alice' }));
      const names = async (o: string | null, user: string) =>
        (await store.sessions.list(o, { offset: 0, limit: 100 }, user)).items.map((x) => `${x.owner}/${x.name}`).sort();
      expect(await names(owner, 'alice')).toEqual([`${owner}/a1`, `${owner}/a2`]);
      expect((await store.sessions.list(owner, { offset: 0, limit: 1 }, 'alice')).total).toBe(2);
      expect(await names(owner, owner)).toEqual([`${owner}/plain`]);
      expect(await names(other, owner)).toEqual([]);
      expect(await names(owner, 'bob')).toEqual([]);
      expect((await names(null, 'alice')).filter((n) => n.startsWith(owner) || n.startsWith(other))).toHaveLength(3);
    });

    it('rejects a second session of the same name for one owner, but not for another owner', async () => {
      const owner = freshOwner();
      const first = await store.sessions.create(newSession(owner, 'dup'));
      const clash = store.sessions.create(newSession(owner, 'dup'));
      await expect(clash).rejects.toBeInstanceOf(DuplicateError);
      await expect(clash).rejects.toMatchObject({
        columns: ['owner', 'name'],
        message: expect.stringContaining('"dup"'),
      });
      await expect(store.sessions.create(newSession(freshOwner(), 'dup'))).resolves.toMatchObject({ name: 'dup' });
      await expect(store.sessions.create(newSession(freshOwner(), 'x', { id: first.id }))).rejects.toMatchObject({
        name: 'DuplicateError',
        columns: ['id'],
      });
      const renamed = await store.sessions.create(newSession(owner, 'other'));
      await expect(store.sessions.update(renamed.id, { name: 'dup' })).rejects.toBeInstanceOf(DuplicateError);
    });

    it('updates the given columns and updated_at; unknown ids give undefined', async () => {
      const created = await store.sessions.create(
        newSession(freshOwner(), 'upd', { created_at: '2020-01-01T00:00:00.000Z' }),
      );
      const updated = await store.sessions.update(created.id, {
        status: 'active',
        template: 'tpl',
        options: { model: 'opus' },
      });
      expect(updated).toMatchObject({ status: 'active', template: 'tpl', options: { model: 'opus' }, name: 'upd' });
      expect(updated!.updated_at > created.updated_at).toBe(true);
      expect(updated!.created_at).toBe(created.created_at);
      expect(await store.sessions.findById(created.id)).toEqual(updated);
      expect(await store.sessions.update(randomUUID(), { status: 'active' })).toBeUndefined();
    });

    it('records 20 concurrent turns atomically', async () => {
      const created = await store.sessions.create(newSession(freshOwner(), 'busy'));
      const turns = Array.from({ length: 20 }, (_, i) => i + 1);
      await Promise.all(
        turns.map((i) =>
          store.sessions.recordTurn(created.id, {
            costUsd: i * 0.01,
            inputTokens: i,
            outputTokens: 2 * i,
            cacheReadTokens: 3 * i,
            cacheCreationTokens: 4 * i,
            claudeCostTotal: i * 0.5,
            claudeSessionId: `claude-${i}`,
            lastEventId: i,
            at: `2031-01-01T00:00:${String(i).padStart(2, '0')}.000Z`,
          }),
        ),
      );
      const sum = 210; // 1 + 2 + … + 20
      const row = (await store.sessions.findById(created.id))!;
      expect(row.turns).toBe(20);
      expect(row.cost_usd).toBeCloseTo(2.1, 10);
      expect([row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_creation_tokens]).toEqual([
        sum,
        2 * sum,
        3 * sum,
        4 * sum,
      ]);
      expect(row.status).toBe('active');
      expect(row.claude_session_id).toMatch(/^claude-\d+$/);
      expect(row.last_active_at).toMatch(/^2031-01-01T00:00:\d\d\.000Z$/);
      expect(row.updated_at).toBe(row.last_active_at);
      expect(row.claude_cost_total).toBe(Number(row.claude_session_id!.slice('claude-'.length)) * 0.5);
      expect(row.last_event_id).toBe(Number(row.claude_session_id!.slice('claude-'.length)));

      const kept = await store.sessions.recordTurn(created.id, {
        costUsd: 0,
        inputTokens: 0,
        outputTokens: 0,
        cacheReadTokens: 0,
        cacheCreationTokens: 0,
        claudeCostTotal: 0,
        claudeSessionId: null,
        lastEventId: 99,
      });
      expect(kept).toMatchObject({ turns: 21, claude_session_id: row.claude_session_id, last_event_id: 99 });
      expect(await store.sessions.recordTurn(randomUUID(), { ...turnOf(1) })).toBeUndefined();
    });

    it('keeps token totals beyond 32 bits as exact numbers', async () => {
      const created = await store.sessions.create(newSession(freshOwner(), 'big'));
      const big = 3_000_000_000;
      await store.sessions.recordTurn(created.id, { ...turnOf(1), cacheReadTokens: big });
      await store.sessions.recordTurn(created.id, { ...turnOf(1), cacheReadTokens: big });
      const row = (await store.sessions.findById(created.id))!;
      expect(row.cache_read_tokens).toBe(2 * big);
    });

    it('stores messages in order, paginates them and counts them', async () => {
      const session = await store.sessions.create(newSession(freshOwner(), 'chat'));
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) {
        const message = await store.messages.insert({
          session_id: session.id,
          turn_id: `t${Math.floor(i / 2)}`,
          role: i % 2 === 0 ? 'user' : 'assistant',
          content: `m${i}`,
        });
        expect(typeof message.id).toBe('number');
        ids.push(message.id);
      }
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      const page = await store.messages.listBySession(session.id, { offset: 1, limit: 3 });
      expect(page.total).toBe(5);
      expect(page.items.map((m) => m.content)).toEqual(['m1', 'm2', 'm3']);
      expect(page.items[0]).toMatchObject({
        status: 'ok',
        tools_used: null,
        usage: null,
        error: null,
        cost_usd: null,
        model: null,
      });
      expect(await store.messages.countBySession(session.id)).toBe(5);
      expect(await store.messages.countBySession(randomUUID())).toBe(0);
      await expect(
        store.messages.insert({ session_id: randomUUID(), turn_id: 't', role: 'user', content: 'orphan' }),
      ).rejects.toBeInstanceOf(MissingReferenceError);
    });

    it('round-trips JSON columns and returns costs and counters as numbers', async () => {
      const options = {
        model: 'opus',
        effort: 'high',
        allowed_tools: ['Read', 'Bash(git *)'],
        max_turns: 7,
        nested: { ü: 'ñ ✓', n: null },
      };
      const session = await store.sessions.create(newSession(freshOwner(), 'json', { options }));
      expect(session.options).toEqual(options);
      expect((await store.sessions.findById(session.id))!.options).toEqual(options);

      const message = await store.messages.insert({
        session_id: session.id,
        turn_id: 't1',
        role: 'assistant',
        content: 'done',
        status: 'error',
        tools_used: [{ name: 'Read', input: { path: '/a' } }, 'Bash'],
        cost_usd: 0.1234,
        duration_ms: 1500,
        num_turns: 3,
        usage: { input_tokens: 10, output_tokens: 20 },
        model: 'claude-opus',
        error: { type: 'api_error', detail: 'x "quoted"' },
      });
      const [listed] = (await store.messages.listBySession(session.id, { offset: 0, limit: 10 })).items;
      expect(listed).toEqual(message);
      expect(listed).toMatchObject({
        status: 'error',
        tools_used: [{ name: 'Read', input: { path: '/a' } }, 'Bash'],
        usage: { input_tokens: 10, output_tokens: 20 },
        error: { type: 'api_error', detail: 'x "quoted"' },
        cost_usd: 0.1234,
        duration_ms: 1500,
        num_turns: 3,
      });

      await store.sessions.recordTurn(session.id, { ...turnOf(5), costUsd: 0.25 });
      const row = (await store.sessions.findById(session.id))!;
      for (const key of [
        'cost_usd',
        'claude_cost_total',
        'turns',
        'input_tokens',
        'cache_creation_tokens',
        'last_event_id',
      ] as const) {
        expect(typeof row[key], key).toBe('number');
      }
      expect(row.cost_usd).toBe(0.25);
      const raw = await store.db
        .selectFrom('messages')
        .select(['id', 'cost_usd'])
        .where('session_id', '=', session.id)
        .executeTakeFirstOrThrow();
      expect(raw).toEqual({ id: message.id, cost_usd: 0.1234 });
    });

    it('deletes a session together with its messages', async () => {
      const session = await store.sessions.create(newSession(freshOwner(), 'doomed'));
      const keep = await store.sessions.create(newSession(freshOwner(), 'kept'));
      for (const s of [session, keep]) {
        await store.messages.insert({ session_id: s.id, turn_id: 't', role: 'user', content: 'hi' });
      }
      expect(await store.sessions.delete(session.id)).toBe(true);
      expect(await store.sessions.findById(session.id)).toBeUndefined();
      expect(await store.messages.countBySession(session.id)).toBe(0);
      expect(await store.messages.countBySession(keep.id)).toBe(1);
      expect(await store.sessions.delete(session.id)).toBe(false);
    });

    it('keeps approvals pending until one settle wins; rules keep their order; both go with their session', async () => {
      const owner = freshOwner();
      const session = await store.sessions.create(newSession(owner, 'approving'));
      const approval = await store.approvals.insert({
        id: `apr_${randomUUID().replace(/-/g, '')}`,
        tenant: owner,
        session_id: session.id,
        session_name: session.name,
        turn_id: 't1',
        job_id: null,
        kind: 'approval',
        tool: 'Write',
        tool_use_id: 'toolu_1',
        input: { file_path: '/x', content: 'y' },
        rule: 'Write',
        deadline: new Date(Date.now() + 60_000).toISOString(),
        created_at: new Date().toISOString(),
      });
      expect((await store.approvals.pending(owner)).map((a) => a.id)).toEqual([approval.id]);
      const settled = await Promise.all([
        store.approvals.settle(approval.id, 'allowed', { response: { decision: 'allow' }, decidedBy: 'k1' }),
        store.approvals.settle(approval.id, 'denied', { decidedBy: 'k2' }),
      ]);
      expect(settled.filter((r) => r !== undefined)).toHaveLength(1);
      expect(await store.approvals.pending(owner)).toEqual([]);
      expect((await store.approvals.findById(approval.id))?.input).toEqual({ file_path: '/x', content: 'y' });

      const rules = ['Bash(z)', 'Bash(a)', 'Read', 'Write(src/**)'].map((rule) => ({ outcome: 'ask' as const, rule }));
      await store.approvals.replaceRules(owner, session.id, rules, null);
      await store.approvals.addRule({
        tenant: owner,
        session_id: session.id,
        outcome: 'allow',
        rule: 'Bash(ls)',
        source: 'remembered',
        created_by: 'k1',
      });
      await store.approvals.replaceRules(owner, session.id, rules, null);
      const stored = await store.approvals.rules(owner, session.id);
      expect(stored.filter((r) => r.source === 'set').map((r) => r.rule)).toEqual(rules.map((r) => r.rule));
      expect(stored.filter((r) => r.source === 'remembered').map((r) => r.rule)).toEqual(['Bash(ls)']);
      expect(await store.approvals.rules(owner, null)).toEqual([]);
      await store.sessions.delete(session.id);
      expect(await store.approvals.rules(owner, session.id)).toEqual([]);
      expect(await store.approvals.findById(approval.id)).toBeUndefined();
    });
  });
}

function turnOf(i: number) {
  return {
    costUsd: i,
    inputTokens: i,
    outputTokens: i,
    cacheReadTokens: i,
    cacheCreationTokens: i,
    claudeCostTotal: i,
    claudeSessionId: `claude-${i}`,
    lastEventId: i,
  };
}
