// Spending limits: the per-turn cap a client may only lower, and the key's total checked before a turn.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { checkOptions, resolveOptions } from '../../src/engine/options.js';
import { ProblemError } from '../../src/problems.js';
import { Budgets, turnBudget, turnBudgetProblem } from '../../src/security/budgets.js';

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
  const spent: Record<string, number> = { a: 0.4, b: 1 };
  const budgets = new Budgets({ perUserUsd: 1 }, async (t) => spent[t] ?? 0);

  it('lets a key below its limit start a turn', async () => {
    await expect(budgets.assertCanSpend('a')).resolves.toBeUndefined();
    await expect(budgets.assertCanSpend('nobody')).resolves.toBeUndefined();
  });

  it('refuses a key at its limit with a 429 of its own type', async () => {
    const err = await budgets.assertCanSpend('b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemError);
    const doc = (err as ProblemError).toProblem();
    expect(doc).toMatchObject({ type: '/problems/key-budget-exceeded', status: 429, spent_usd: 1, limit_usd: 1 });
    expect(doc.detail).toContain('CLAUDE_MAX_COST_PER_USER');
  });

  it("uses the key's own budget instead when it has one", async () => {
    await expect(budgets.assertCanSpend('b', 5)).resolves.toBeUndefined();
    const err = (await budgets.assertCanSpend('a', 0.3).catch((e: unknown) => e)) as ProblemError;
    expect(err.toProblem().detail).toContain('own budget');
    await expect(new Budgets({}, async () => 1e9).assertCanSpend('x')).resolves.toBeUndefined();
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
