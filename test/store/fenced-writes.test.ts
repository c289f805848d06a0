// The writes of a session's owner fenced on its lease epoch in SQL, on SQLite and PostgreSQL: a stale epoch changes nothing, a takeover's raise and an old owner's write never both land.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createStore,
  MissingReferenceError,
  type NewMessage,
  type Store,
  type TurnRecord,
} from '../../src/store/index.js';
import { needs } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';
import { eventually } from '../support/wait.js';

const pgMissing = await needs('the PostgreSQL half of the fenced write tests', 'postgresql');

const totals = (cost: number, lastEventId: number): TurnRecord => ({
  costUsd: cost,
  inputTokens: 10,
  outputTokens: 5,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  claudeCostTotal: cost,
  claudeSessionId: 'claude-1',
  lastEventId,
});
const answer = (sessionId: string, turnId: string, content = 'answer'): NewMessage => ({
  session_id: sessionId,
  turn_id: turnId,
  role: 'assistant',
  content,
  cost_usd: 0.5,
});
const question = (sessionId: string, turnId: string): NewMessage => ({
  session_id: sessionId,
  turn_id: turnId,
  role: 'user',
  content: 'question',
});

function fencedWriteSuite(label: string, open: () => Promise<{ url: string; cleanup: () => Promise<void> }>): void {
  describe(`fenced writes on ${label}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      const db = await open();
      cleanup = db.cleanup;
      store = await createStore(db.url);
      await store.migrate();
    });
    afterAll(async () => {
      await store?.close();
      await cleanup?.();
    });

    const session = async (): Promise<string> => {
      const id = randomUUID();
      await store.sessions.create({
        id,
        owner: 'tenant',
        name: `s-${id}`,
        workspace: 'ws',
        working_dir: `/tmp/${id}`,
        status: 'pending',
      });
      return id;
    };
    const history = async (id: string) =>
      (await store.messages.listBySession(id, { offset: 0, limit: 50 })).items.map((m) => [m.role, m.content]);

    it('a new session is at epoch 0; raising only ever goes up and answers the recorded epoch', async () => {
      const id = await session();
      expect((await store.sessions.findById(id))?.lease_epoch).toBe(0);
      expect(await store.fenced.raiseEpoch(id, 3)).toBe(3);
      expect(await store.fenced.raiseEpoch(id, 2)).toBe(3); // a late claim of an older epoch changes nothing
      expect(await store.fenced.raiseEpoch(id, 3)).toBe(3);
      expect(await store.fenced.raiseEpoch(id, 7)).toBe(7);
      expect((await store.sessions.findById(id))?.lease_epoch).toBe(7);
      expect(await store.fenced.raiseEpoch(randomUUID(), 1)).toBeUndefined();
    });

    it("a turn's end at the session's epoch (or on a single node, with none) writes its outcome and its totals", async () => {
      const id = await session();
      await store.fenced.raiseEpoch(id, 4);
      expect(await store.fenced.appendMessages(id, [question(id, 't1')], 4)).toBe('written');
      expect(await store.fenced.endTurn(id, answer(id, 't1'), totals(0.5, 3), 4)).toBe('written');
      expect(await store.fenced.appendMessages(id, [question(id, 't2')], undefined)).toBe('written');
      expect(await store.fenced.endTurn(id, answer(id, 't2', 'two'), totals(0.25, 6), undefined)).toBe('written');
      expect(await history(id)).toEqual([
        ['user', 'question'],
        ['assistant', 'answer'],
        ['user', 'question'],
        ['assistant', 'two'],
      ]);
      expect(await store.sessions.findById(id)).toMatchObject({
        turns: 2,
        cost_usd: 0.75,
        input_tokens: 20,
        last_event_id: 6,
        status: 'active',
        claude_session_id: 'claude-1',
      });
    });

    it('a write with a stale epoch changes nothing: no message, no totals, no event id', async () => {
      const id = await session();
      await store.fenced.raiseEpoch(id, 2);
      expect(await store.fenced.appendMessages(id, [question(id, 't1')], 2)).toBe('written');
      // Another node takes the session over (epoch 3) while the turn of epoch 2 runs.
      await store.fenced.raiseEpoch(id, 3);
      const before = await store.sessions.findById(id);
      expect(await store.fenced.endTurn(id, answer(id, 't1'), totals(0.5, 9), 2)).toBe('fenced');
      expect(await store.fenced.appendMessages(id, [question(id, 't2')], 2, 12)).toBe('fenced');
      expect(await history(id)).toEqual([['user', 'question']]);
      const after = await store.sessions.findById(id);
      expect(after).toMatchObject({ turns: 0, cost_usd: 0, last_event_id: 0, lease_epoch: 3 });
      expect(after?.updated_at).toBe(before?.updated_at);
      // The new owner's own writes land, and an event id only ever goes up.
      expect(await store.fenced.appendMessages(id, [answer(id, 't1', 'interrupted')], 3, 12)).toBe('written');
      expect(await store.fenced.appendMessages(id, [], 3, 5)).toBe('written');
      expect((await store.sessions.findById(id))?.last_event_id).toBe(12);
      expect(await history(id)).toEqual([
        ['user', 'question'],
        ['assistant', 'interrupted'],
      ]);
    });

    it('a write for a session that is gone is a MissingReferenceError, fenced or not', async () => {
      const gone = randomUUID();
      await expect(store.fenced.endTurn(gone, answer(gone, 't'), totals(0, 1), 1)).rejects.toBeInstanceOf(
        MissingReferenceError,
      );
      await expect(store.fenced.appendMessages(gone, [question(gone, 't')], undefined)).rejects.toBeInstanceOf(
        MissingReferenceError,
      );
    });

    it('messages appended together land together or not at all', async () => {
      const id = await session();
      const broken = { ...question(id, 't2'), session_id: randomUUID() };
      await expect(store.fenced.appendMessages(id, [question(id, 't1'), broken], 0)).rejects.toBeInstanceOf(
        MissingReferenceError,
      );
      expect(await history(id)).toEqual([]);
    });

    // Row locks a second writer waits on are PostgreSQL's (SQLite has one writer at a time): this case is its alone.
    if (label === 'PostgreSQL')
      it("a takeover's raise inside an open transaction holds an old owner's write back, which then writes nothing", async () => {
        const id = await session();
        await store.fenced.raiseEpoch(id, 1);
        let commit!: () => void;
        const committed = new Promise<void>((resolve) => (commit = resolve));
        let raised!: () => void;
        const raisedInTx = new Promise<void>((resolve) => (raised = resolve));
        const takeover = store.db.transaction().execute(async (tx) => {
          await tx.updateTable('sessions').set({ lease_epoch: 2 }).where('id', '=', id).execute();
          raised();
          await committed;
        });
        await raisedInTx;
        // The old owner's end starts while the raise is not committed: it waits for the row, then sees epoch 2.
        const late = store.fenced.endTurn(id, answer(id, 't1'), totals(0.5, 4), 1);
        try {
          await eventually(
            async () => {
              const { rows } = await sql<{ waiting: number }>`
                select count(*)::int as waiting from pg_stat_activity
                where datname = current_database() and wait_event_type = 'Lock'`.execute(store.db);
              return rows[0]!.waiting > 0;
            },
            30_000,
            "the old owner's write waiting for the session row",
          );
        } finally {
          commit();
        }
        await takeover;
        expect(await late).toBe('fenced');
        expect(await history(id)).toEqual([]);
        expect(await store.sessions.findById(id)).toMatchObject({ turns: 0, lease_epoch: 2 });
      });
  });
}

fencedWriteSuite('SQLite', async () => {
  const folder = await mkdtemp(join(tmpdir(), 'cca-fenced-'));
  return { url: `sqlite://${join(folder, 'store.db')}`, cleanup: () => rm(folder, { recursive: true, force: true }) };
});

describe.skipIf(pgMissing)('PostgreSQL', () => {
  fencedWriteSuite('PostgreSQL', async () => {
    const db = await createTempDatabase('cca_fenced_test');
    return { url: db.url, cleanup: db.drop };
  });
});
