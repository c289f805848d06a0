// The spend ledger on SQLite and PostgreSQL: sessions' spend carried in by migration 0005, rows and running totals written together, nothing lost when a session goes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, type MigrationProvider } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMigrations } from '../../src/store/migrations/index.js';
import { createStore, keyAccount, tenantAccount, type Store } from '../../src/store/index.js';
import { needs } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';

const session = (store: Store, id: string, owner: string) =>
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

/** A database at migration 0003 (before the ledger) with spend in its sessions, then migrated to the latest. */
async function upgradeWithSpend(store: Store): Promise<void> {
  const migrations = buildMigrations(store.dialect);
  const provider: MigrationProvider = { getMigrations: async () => migrations };
  const migrated = await new Migrator({ db: store.db, provider }).migrateTo('0003_api_keys_audit');
  expect(migrated.error).toBeUndefined();
  await store.db
    .insertInto('api_keys')
    .values({
      id: 'key_0000000000000001',
      name: 'a',
      scope: 'user',
      tenant: 'k_a',
      hash: 'ab'.repeat(32),
      prefix: 'cca_abcd',
      rate_limit: null,
      budget_usd: 1,
      created_at: new Date().toISOString(),
    } as never)
    .execute();
  await session(store, 'a1', 'k_a');
  await session(store, 'a2', 'k_a');
  await session(store, 'b1', 'k_b');
  await session(store, 'c1', 'k_c');
  await store.sessions.recordTurn('a1', turn(0.25));
  await store.sessions.recordTurn('a1', turn(0.5));
  await store.sessions.recordTurn('a2', turn(0.125));
  await store.sessions.recordTurn('b1', turn(2));
  expect(await store.migrate()).toContain('0005_spend_ledger');
}

async function exercise(store: Store): Promise<void> {
  await upgradeWithSpend(store);
  // Carried in: one row per session that had spent, the stored key named where the tenant is one.
  const carried = await store.spend.listByTenant('k_a');
  expect(carried.map((r) => [r.session_name, r.cost_usd, r.key_id, r.source])).toEqual([
    ['a1', 0.75, 'key_0000000000000001', 'carried'],
    ['a2', 0.125, 'key_0000000000000001', 'carried'],
  ]);
  expect(await store.spend.total(tenantAccount('k_a'))).toBeCloseTo(0.875, 10);
  expect(await store.spend.total(keyAccount('key_0000000000000001'))).toBeCloseTo(0.875, 10);
  expect((await store.spend.listByTenant('k_b')).map((r) => [r.key_id, r.cost_usd])).toEqual([[null, 2]]);
  expect(await store.spend.total(tenantAccount('k_c'))).toBe(0);

  // Rows appended at once (parallel turns settling) all land in the totals.
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      store.spend.append({
        tenant: 'k_c',
        keyId: 'env_c',
        sessionId: 'c1',
        sessionName: 'c1',
        turnId: `t${i}`,
        costUsd: 0.125,
      }),
    ),
  );
  expect(await store.spend.total(tenantAccount('k_c'))).toBeCloseTo(2.5, 10);
  expect(await store.spend.total(keyAccount('env_c'))).toBeCloseTo(2.5, 10);
  expect(await store.spend.sum({ tenant: 'k_c' })).toBeCloseTo(2.5, 10);
  expect(await store.spend.sum({ keyId: 'env_c' })).toBeCloseTo(2.5, 10);

  // Deleting sessions removes none of it.
  for (const id of ['a1', 'a2', 'c1']) expect(await store.sessions.delete(id)).toBe(true);
  expect(await store.spend.total(tenantAccount('k_a'))).toBeCloseTo(0.875, 10);
  expect(await store.spend.sum({ tenant: 'k_a' })).toBeCloseTo(0.875, 10);
  expect(await store.spend.total(tenantAccount('k_c'))).toBeCloseTo(2.5, 10);
  expect((await store.spend.listByTenant('k_c')).length).toBe(20);
}

describe('spend ledger on SQLite', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cca-spend-'));
    store = await createStore(`sqlite:${join(dir, 'db.sqlite')}`);
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  it('carries in what sessions spent on upgrade, keeps rows and totals together, outlives sessions', () =>
    exercise(store));
});

describe.skipIf(await needs('the spend ledger test on PostgreSQL', 'postgresql'))('spend ledger on PostgreSQL', () => {
  let store: Store;
  let db: { url: string; drop(): Promise<void> } | undefined;
  beforeAll(async () => {
    db = await createTempDatabase('cca_spend');
    store = await createStore(db.url);
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });
  it('carries in what sessions spent on upgrade, keeps rows and totals together, outlives sessions', () =>
    exercise(store));
});
