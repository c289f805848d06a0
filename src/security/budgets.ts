// Spending limits: the per-turn cap (CLAUDE_MAX_COST_PER_REQUEST, or a session's / request's lower max_budget_usd) and each key's total (CLAUDE_MAX_COST_PER_USER, or the key's own budget).
import { ProblemError } from '../problems.js';

export interface BudgetSettings {
  /** CLAUDE_MAX_COST_PER_REQUEST: most one turn may spend, USD. */
  perRequestUsd?: number;
  /** CLAUDE_MAX_COST_PER_USER: most one key (tenant) may spend in all, USD. */
  perUserUsd?: number;
}

/** A field problem when a client asks for more than the operator allows per turn, else undefined. */
export function turnBudgetProblem(settings: BudgetSettings, requested: number | undefined): string | undefined {
  if (requested === undefined || settings.perRequestUsd === undefined || requested <= settings.perRequestUsd)
    return undefined;
  return `max_budget_usd may be at most ${settings.perRequestUsd} (CLAUDE_MAX_COST_PER_REQUEST)`;
}

/** The cap of one turn: the client's max_budget_usd (already checked against the operator's), else the operator's. */
export function turnBudget(settings: BudgetSettings, requested: number | undefined): number | undefined {
  return requested ?? settings.perRequestUsd;
}

export class Budgets {
  constructor(
    readonly settings: BudgetSettings,
    /** The tenant's total spend so far, USD. */
    private readonly spentBy: (tenant: string) => Promise<number>,
  ) {}

  /**
   * Refuses a new turn (429, `/problems/key-budget-exceeded`) when the tenant has already spent its limit: the key's
   * own budget when it has one, else CLAUDE_MAX_COST_PER_USER.
   */
  async assertCanSpend(tenant: string, keyBudgetUsd?: number | null): Promise<void> {
    const limit = keyBudgetUsd ?? this.settings.perUserUsd;
    if (limit === undefined) return;
    const spent = await this.spentBy(tenant);
    if (spent < limit) return;
    const source = keyBudgetUsd != null ? "this key's own budget" : 'CLAUDE_MAX_COST_PER_USER';
    throw new ProblemError(
      429,
      'key-budget-exceeded',
      'Spending limit of this key reached',
      `This API key has spent $${spent.toFixed(4)} of its $${limit} limit (${source}); no new turn starts until the limit is raised.`,
      { spent_usd: round(spent), limit_usd: limit },
    );
  }
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;
