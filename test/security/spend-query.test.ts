// The key budget's measure, SessionsRepo.totalCostByOwner, on SQLite and PostgreSQL: the sum over an owner's sessions, 0 without any.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type Store } from '../../src/store/index.js';
import { needs } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';

const turn = (costUsd: number) => ({
  costUsd,
  inputTokens: 1,
  outputTokens: 1,
  cacheReadTokens: 0,
  cacheCreationTokens: 0,
  claudeCostTotal: costUsd,
  claudeSessionId: null,
  lastEventId: 1,
});

async function exercise(store: Store) {
  const session = (id: string, owner: string) =>
    store.sessions.create({
      id,
      owner,
      name: id,
      workspace: `/w/${id}`,
      working_dir: `/w/${id}`,
      status: 'pending',
      claude_session_id: null,
      options: {},
      template: null,
      last_active_at: null,
    });
  await session('a1', 'k_a');
  await session('a2', 'k_a');
  await session('b1', 'k_b');
  expect(await store.sessions.totalCostByOwner('k_a')).toBe(0);
  await store.sessions.recordTurn('a1', turn(0.25));
  await store.sessions.recordTurn('a1', turn(0.5));
  await store.sessions.recordTurn('a2', turn(0.125));
  await store.sessions.recordTurn('b1', turn(9));
  expect(await store.sessions.totalCostByOwner('k_a')).toBeCloseTo(0.875, 10);
  expect(await store.sessions.totalCostByOwner('k_b')).toBe(9);
  expect(await store.sessions.totalCostByOwner('k_nobody')).toBe(0);
}

describe('totalCostByOwner on SQLite', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cca-spend-'));
    store = await createStore(`sqlite:${join(dir, 'db.sqlite')}`);
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  it("sums the owner's sessions", () => exercise(store));
});

describe.skipIf(await needs('the spend query test on PostgreSQL', 'postgresql'))(
  'totalCostByOwner on PostgreSQL',
  () => {
    let store: Store;
    let db: { url: string; drop(): Promise<void> } | undefined;
    beforeAll(async () => {
      db = await createTempDatabase('cca_spend');
      store = await createStore(db.url);
      await store.migrate();
    });
    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });
    it("sums the owner's sessions", () => exercise(store));
  },
);
