// Spending limits: the per-turn cap a client may only lower, and the key's total reserved before a turn and settled into the ledger (a real SQLite store).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { checkOptions, resolveOptions } from '../../src/engine/options.js';
import { ProblemError } from '../../src/problems.js';
import { Budgets, turnBudget, turnBudgetProblem, type Payer } from '../../src/security/budgets.js';
import { createStore, tenantAccount, type Store } from '../../src/store/index.js';

describe('per-turn budget', () => {
  it("is the client's max_budget_usd when given, else CLAUDE_MAX_COST_PER_REQUEST", () => {
    expect(turnBudget({ perRequestUsd: 2 }, undefined)).toBe(2);
    expect(turnBudget({ perRequestUsd: 2 }, 0.5)).toBe(0.5);
    expect(turnBudget({}, undefined)).toBeUndefined();
    expect(turnBudgetProblem({ perRequestUsd: 2 }, 3)).toMatch(/CLAUDE_MAX_COST_PER_REQUEST/);
    expect(turnBudgetProblem({ perRequestUsd: 2 }, 2)).toBeUndefined();
    expect(turnBudgetProblem({}, 1000)).toBeUndefined();
  });

  it("flows through the option layers (request > session > environment) and is checked against the operator's cap", () => {
    const cfg = loadConfig({ CLAUDE_MAX_COST_PER_REQUEST: '1.5' }).claude;
    expect(resolveOptions(cfg, []).maxBudgetUsd).toBe(1.5);
    expect(resolveOptions(cfg, [{ max_budget_usd: 1 }, { max_budget_usd: 0.25 }]).maxBudgetUsd).toBe(0.25);
    expect(checkOptions(cfg, { max_budget_usd: 2 })).toEqual([
      { field: 'max_budget_usd', message: expect.stringContaining('at most 1.5') },
    ]);
    expect(checkOptions(cfg, { max_budget_usd: 1.5 })).toEqual([]);
    expect(resolveOptions(loadConfig({}).claude, []).maxBudgetUsd).toBeUndefined();
  });
});

describe('key budget', () => {
  let store: Store;
  let budgets: Budgets;
  const a: Payer = { tenant: 'k_a', keyId: 'env_a' };
  const b: Payer = { tenant: 'k_b', keyId: 'env_b' };
  const spend = (payer: Payer, costUsd: number) =>
    store.spend.append({ ...payer, sessionId: 's', sessionName: 's', turnId: null, costUsd });
  const facts = { sessionId: 's', sessionName: 's', turnId: 't' };

  beforeEach(async () => {
    store = await createStore('sqlite::memory:');
    await store.migrate();
    budgets = new Budgets({ perUserUsd: 1, perRequestUsd: 0.25 }, store.spend);
    await spend(a, 0.4);
    await spend(b, 1);
  });
  afterEach(() => store.close());

  it('lets a key below its limit start a turn', async () => {
    await expect(budgets.assertCanSpend(a)).resolves.toBeUndefined();
    await expect(budgets.assertCanSpend({ tenant: 'k_nobody', keyId: null })).resolves.toBeUndefined();
  });

  it('refuses a key at its limit with a 429 of its own type, without Retry-After', async () => {
    const err = await budgets.reserve(b, 0.25).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    const doc = (err as ProblemError).toProblem();
    expect(doc).toMatchObject({ type: '/problems/key-budget-exceeded', status: 429, spent_usd: 1, limit_usd: 1 });
    expect(doc.detail).toContain('CLAUDE_MAX_COST_PER_USER');
    expect((err as ProblemError).retryAfterSeconds).toBeUndefined();
  });

  it("uses the key's own budget, measured on that key's ledger, instead when it has one", async () => {
    await expect(budgets.assertCanSpend({ ...b, keyBudgetUsd: 5 })).resolves.toBeUndefined();
    const err = (await budgets.assertCanSpend({ ...a, keyBudgetUsd: 0.3 }).catch((e: unknown) => e)) as ProblemError;
    expect(err.toProblem().detail).toContain('own budget');
    // Another key acting for the same tenant has spent nothing of its own.
    await expect(
      budgets.assertCanSpend({ tenant: 'k_a', keyId: 'key_admin', keyBudgetUsd: 0.3 }),
    ).resolves.toBeUndefined();
    const unlimited = new Budgets({}, store.spend);
    await expect(unlimited.reserve(b, undefined)).resolves.toBeDefined();
  });

  it("holds each admitted turn's cap until it settles: parallel turns pass the limit by at most one cap", async () => {
    // $0.60 left, $0.25 a turn: two turns hold their whole cap, the third the $0.10 left, the fourth is refused.
    const held = await Promise.all([budgets.reserve(a, 0.25), budgets.reserve(a, 0.25), budgets.reserve(a, 0.25)]);
    expect(budgets.heldBy(tenantAccount('k_a'))).toBeCloseTo(0.6, 10);
    const refused = (await budgets.reserve(a, 0.25).catch((e: unknown) => e)) as ProblemError;
    expect(refused.toProblem()).toMatchObject({ status: 429, spent_usd: 0.4, reserved_usd: 0.6 });
    expect(refused.toProblem().detail).toContain('running turns hold');
    expect(refused.retryAfterSeconds).toBe(5);
    // Every turn spends its whole cap: the key ends at most one cap past its limit.
    await Promise.all(held.map((r) => r.settle(0.25, facts)));
    expect(budgets.heldBy(tenantAccount('k_a'))).toBe(0);
    const total = await store.spend.total(tenantAccount('k_a'));
    expect(total).toBeCloseTo(1.15, 10);
    expect(total).toBeLessThanOrEqual(1 + 0.25);
    expect(await store.spend.sum({ tenant: 'k_a' })).toBeCloseTo(total, 10);
    await expect(budgets.reserve(a, 0.25)).rejects.toThrow(/no new turn starts/);
  });

  it('frees the hold of a turn that never ran without a ledger row; settling twice writes one row', async () => {
    const first = await budgets.reserve(a, undefined);
    // No per-turn cap: the turn holds all that is left, so the key's next turn waits for it.
    expect(budgets.heldBy(tenantAccount('k_a'))).toBeCloseTo(0.6, 10);
    await expect(budgets.reserve(a, undefined)).rejects.toMatchObject({ retryAfterSeconds: 5 });
    first.release();
    first.release();
    expect(budgets.heldBy(tenantAccount('k_a'))).toBe(0);
    const second = await budgets.reserve(a, undefined);
    await Promise.all([second.settle(0.1, facts), second.settle(0.1, facts)]);
    second.release();
    expect((await store.spend.listByTenant('k_a')).length).toBe(2);
    expect(await store.spend.total(tenantAccount('k_a'))).toBeCloseTo(0.5, 10);
  });

  it('sees a turn that settles while the total is read, either held or spent', async () => {
    const running = await budgets.reserve(a, 0.6);
    // The read may start before the settle's row is in and end after its hold is gone: it reads again.
    const late = budgets.reserve(a, 0.25);
    await running.settle(0.6, facts);
    await expect(late).rejects.toThrow(ProblemError);
  });
});

describe('security settings', () => {
  it("reads CLAUDE_SETTING_SOURCES (default: the operator's user settings only) and refuses unknown sources", async () => {
    const { ConfigError } = await import('../../src/config/index.js');
    expect(loadConfig({}).security.settingSources).toEqual(['user']);
    expect(loadConfig({ CLAUDE_SETTING_SOURCES: 'user,project' }).security.settingSources).toEqual(['user', 'project']);
    expect(() => loadConfig({ CLAUDE_SETTING_SOURCES: 'user,policy' })).toThrow(ConfigError);
    expect(() => loadConfig({ CLAUDE_SETTING_SOURCES: 'user,policy' })).toThrow(/CLAUDE_SETTING_SOURCES/);
  });

  it('reads the sandbox, moderation and budget settings', () => {
    const c = loadConfig({
      SANDBOX_ALLOW_NETWORK: 'true',
      SANDBOX_EXCLUDED_COMMANDS: 'git, docker',
      SANDBOX_DENY_READ: 'rel/secrets',
      MODERATION_ENABLED: 'no',
      CLAUDE_MAX_COST_PER_USER: '50',
      CLI_ENV_ALLOW: 'GITHUB_TOKEN',
    });
    expect(c.security.sandbox).toMatchObject({
      enabled: true,
      allowNetwork: true,
      excludedCommands: ['git', 'docker'],
    });
    expect(c.security.sandbox.denyRead[0]).toMatch(/^\/.*rel\/secrets$/);
    expect(c.security).toMatchObject({
      maxCostPerUser: 50,
      cliEnvAllow: ['GITHUB_TOKEN'],
      moderation: { enabled: false },
    });
    expect(() => loadConfig({ CLAUDE_MAX_COST_PER_REQUEST: '-1' })).toThrow(/CLAUDE_MAX_COST_PER_REQUEST/);
  });
});
