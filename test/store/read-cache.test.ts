// The SQLite read cache: what moves the change counter, when a kept read is answered, and that it never answers stale rows.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTHER_PROCESS_CHECK_MS, ReadCache, trackChanges } from '../../src/store/read-cache.js';
import { withStatementCache } from '../../src/store/statement-cache.js';
import { createStore, type Store } from '../../src/store/index.js';

function tracked() {
  const db = new Database(':memory:');
  db.exec('create table t (n integer)');
  return trackChanges(withStatementCache(db));
}

describe('trackChanges', () => {
  it('moves the counter for writes, transaction control and pragmas, never for a read', () => {
    const { database, changes } = tracked();
    const start = changes();
    database.prepare('select n from t').all([]);
    database.prepare('with x as (select 1 as a) select a from x').all([]);
    expect(changes()).toBe(start);
    database.prepare('insert into t values (?)').run([1]);
    expect(changes()).toBe(start + 1);
    database.prepare('insert into t values (2) returning n').all([]);
    expect(changes()).toBe(start + 2);
    database.prepare('begin').run([]);
    database.prepare('rollback').run([]);
    database.prepare('pragma user_version = 3').run([]);
    expect(changes()).toBe(start + 5);
    database.close();
  });

  it('moves the counter when a write fails too', () => {
    const { database, changes } = tracked();
    const start = changes();
    expect(() => database.prepare('insert into missing values (1)').run([])).toThrow();
    expect(changes()).toBe(start);
    const statement = database.prepare('insert into t values (?)');
    database.prepare('create unique index t_n on t (n)').run([]);
    const afterIndex = changes();
    statement.run([1]);
    expect(() => statement.run([1])).toThrow(/UNIQUE/);
    expect(changes()).toBe(afterIndex + 2);
    database.close();
  });

  it('sees a commit by another connection to the same file, within OTHER_PROCESS_CHECK_MS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cc-read-cache-'));
    try {
      const file = join(dir, 'db.sqlite');
      const other = new Database(file);
      other.pragma('journal_mode = WAL');
      other.exec('create table t (n integer)');
      let now = 0;
      const { database, changes } = trackChanges(withStatementCache(new Database(file)), () => now);
      now = OTHER_PROCESS_CHECK_MS;
      const before = changes();
      other.exec('insert into t values (1)');
      expect(changes()).toBe(before); // asked again only OTHER_PROCESS_CHECK_MS after the last look
      now += OTHER_PROCESS_CHECK_MS;
      expect(changes()).toBe(before + 1);
      now += OTHER_PROCESS_CHECK_MS;
      expect(changes()).toBe(before + 1);
      expect(database.prepare('select count(*) as c from t').all([])).toEqual([{ c: 1 }]);
      database.close();
      other.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ReadCache', () => {
  it('answers a kept read until the counter moves, with frozen values', async () => {
    let counter = 0;
    let loads = 0;
    const cache = new ReadCache(() => counter, 1024 * 1024);
    const load = async () => ({ items: [{ n: ++loads }], total: 1 });
    const first = await cache.read(['k'], load);
    const second = await cache.read(['k'], load);
    expect(second).toBe(first);
    expect(loads).toBe(1);
    expect(Object.isFrozen(first) && Object.isFrozen(first.items) && Object.isFrozen(first.items[0])).toBe(true);
    expect(() => {
      (first.items[0] as { n: number }).n = 9;
    }).toThrow(TypeError);
    counter++;
    expect((await cache.read(['k'], load)).items[0]!.n).toBe(2);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 2, entries: 1 });
  });

  it('does not keep a result when something changed while it was read', async () => {
    let counter = 0;
    let loads = 0;
    const cache = new ReadCache(() => counter, 1024 * 1024);
    await cache.read(['k'], async () => {
      counter++; // a write lands between the read's start and its end
      return ++loads;
    });
    expect(await cache.read(['k'], async () => ++loads)).toBe(2);
    expect(await cache.read(['k'], async () => ++loads)).toBe(2);
  });

  it('keeps within its budget, dropping the least recently used, and never keeps what is too large', async () => {
    const cache = new ReadCache(() => 0, 8 * 1024);
    const big = 'x'.repeat(300); // ~700 bytes a value
    for (let i = 0; i < 20; i++) await cache.read([`k${i}`], async () => `${big}${i}`);
    const stats = cache.stats();
    expect(stats.bytes).toBeLessThanOrEqual(8 * 1024);
    expect(stats.entries).toBeLessThan(20);
    let loaded = false;
    await cache.read(['k19'], async () => {
      loaded = true;
      return '';
    });
    expect(loaded).toBe(false);
    await cache.read(['k0'], async () => {
      loaded = true;
      return '';
    });
    expect(loaded).toBe(true);
    await cache.read(['huge'], async () => 'y'.repeat(1000)); // over an eighth of the budget
    let again = false;
    await cache.read(['huge'], async () => {
      again = true;
      return '';
    });
    expect(again).toBe(true);
  });

  it('keeps nothing without a counter (PostgreSQL) or without a budget', async () => {
    for (const cache of [new ReadCache(undefined, 1024 * 1024), new ReadCache(() => 0, 0)]) {
      let loads = 0;
      await cache.read(['k'], async () => ({ n: ++loads }));
      const value = await cache.read(['k'], async () => ({ n: ++loads }));
      expect(value.n).toBe(2);
      expect(Object.isFrozen(value)).toBe(false);
    }
  });
});

describe('the store through the read cache', () => {
  let dir: string;
  let store: Store;
  let url: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cc-read-cache-store-'));
    url = `sqlite:${join(dir, 'db.sqlite')}`;
    store = await createStore(url);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const session = (owner: string, name: string) => ({
    id: randomUUID(),
    owner,
    name,
    workspace: `/ws/${name}`,
    working_dir: `/ws/${name}`,
    status: 'pending' as const,
    claude_session_id: null,
    last_active_at: null,
  });

  it('lists, finds and pages from memory between writes, and shows every write at once', async () => {
    const owner = `o-${randomUUID()}`;
    const a = await store.sessions.create(session(owner, 'a'));
    const page = { offset: 0, limit: 10 };
    const first = await store.sessions.list(owner, page);
    expect(await store.sessions.list(owner, page)).toBe(first);
    expect(first.items.map((s) => s.name)).toEqual(['a']);

    await store.sessions.create(session(owner, 'b'));
    expect((await store.sessions.list(owner, page)).items.map((s) => s.name).sort()).toEqual(['a', 'b']);

    await store.sessions.recordTurn(a.id, {
      costUsd: 0.5,
      inputTokens: 1,
      outputTokens: 2,
      cacheReadTokens: 0,
      cacheCreationTokens: 0,
      claudeCostTotal: 0.5,
      claudeSessionId: null,
      lastEventId: 3,
    });
    expect((await store.sessions.findByName(owner, 'a'))!.cost_usd).toBe(0.5);

    await store.messages.insert({
      session_id: a.id,
      turn_id: randomUUID(),
      role: 'user',
      content: 'hello',
      cost_usd: null,
      duration_ms: null,
      num_turns: null,
      model: null,
    });
    const history = await store.messages.listBySession(a.id, page);
    expect(history.items.map((m) => m.content)).toEqual(['hello']);
    expect(await store.messages.listBySession(a.id, page)).toBe(history);

    await store.sessions.delete(a.id);
    expect(await store.sessions.findByName(owner, 'a')).toBeUndefined();
    expect(store.cache.stats().hits).toBeGreaterThan(0);
  });

  it('shows a write made by another process (another connection to the file) on the next read', async () => {
    const owner = `o-${randomUUID()}`;
    await store.sessions.create(session(owner, 'mine'));
    const page = { offset: 0, limit: 10 };
    expect((await store.sessions.list(owner, page)).total).toBe(1);
    const other = new Database(join(dir, 'db.sqlite'));
    try {
      other.prepare("update sessions set status = 'active' where owner = ?").run(owner);
    } finally {
      other.close();
    }
    // Seen at the first read at least OTHER_PROCESS_CHECK_MS after the commit.
    const committed = performance.now();
    while (performance.now() - committed < OTHER_PROCESS_CHECK_MS) await new Promise((r) => setImmediate(r));
    const after = await store.sessions.list(owner, page);
    expect(after.items[0]!.status).toBe('active');
  });
});
