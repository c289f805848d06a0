// Spending limits: the per-turn cap (CLAUDE_MAX_COST_PER_REQUEST, or a session's / request's lower max_budget_usd), and each key's total (its own budget, else CLAUDE_MAX_COST_PER_USER) reserved before a turn and settled in the ledger after it.
import { ProblemError } from '../problems.js';
import { keyAccount, tenantAccount, type SpendEntry } from '../store/spend-repo.js';
import type { SharedHolds } from './shared-holds.js';

export interface BudgetSettings {
  /** CLAUDE_MAX_COST_PER_REQUEST: most one turn may spend, USD. */
  perRequestUsd?: number;
  /** CLAUDE_MAX_COST_PER_USER: most one key (tenant) may spend in all, USD. */
  perUserUsd?: number;
}

/** Where the budgets read and write spend: the ledger's running totals and its append. */
export interface SpendBook {
  total(account: string): Promise<number>;
  append(entry: SpendEntry): Promise<void>;
}

/** Who pays for a turn: the tenant it runs for and the key that asked (with that key's own budget, if any). */
export interface Payer {
  tenant: string;
  /** null in open mode. */
  keyId: string | null;
  /** The key's own total budget, USD; null/undefined = CLAUDE_MAX_COST_PER_USER. */
  keyBudgetUsd?: number | null;
}

/** What a turn settles into the ledger besides its payer and cost. */
export interface SpendFacts {
  sessionId: string;
  sessionName: string;
  turnId: string | null;
}

/** How long a turn refused because other turns hold the rest of the budget should wait, seconds. */
const RESERVED_RETRY_SECONDS = 5;

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

/**
 * The money held for one admitted turn until it settles. `settle` appends the turn's cost to the ledger and then
 * frees the hold; `release` frees it without a row (the turn never started). Both are safe to call more than once.
 */
export interface Reservation {
  settle(costUsd: number, facts: SpendFacts): Promise<void>;
  release(): void;
}

/** The limit that applies to a payer and the ledger account it is measured on. */
interface Limit {
  account: string;
  usd: number;
  source: string;
}

/** Whose spend a reservation settles, and the accounts whose limit it holds money on. */
interface Holder {
  tenant: string;
  keyId: string | null;
  limited: string[];
}

export class Budgets {
  /** USD held per account by admitted turns that have not settled (this instance's). */
  private readonly held = new Map<string, number>();
  /** Bumped per account each time a settled turn's row is in the ledger and its hold is gone. */
  private readonly settledCount = new Map<string, number>();

  constructor(
    readonly settings: BudgetSettings,
    private readonly book: SpendBook,
    /** Several nodes: the holds are kept in Redis, so a limit holds across nodes (this instance's memory otherwise). */
    private readonly shared?: SharedHolds,
  ) {}

  /**
   * Admits a turn against the payer's limit and holds `turnCapUsd` (the turn's own cap) for it until it settles.
   * Refused (429 `/problems/key-budget-exceeded`) when what the key has spent plus what its running turns hold
   * reaches the limit; with Retry-After when only the holds stand in the way. A turn without a cap holds all that
   * is left, so a key with a limit but no per-turn cap runs one turn at a time. Since every admitted turn can spend
   * at most its cap, concurrent turns pass the limit by at most one turn's cap.
   */
  async reserve(payer: Payer, turnCapUsd: number | undefined): Promise<Reservation> {
    const limit = this.limitOf(payer);
    const accounts: Holder = { tenant: payer.tenant, keyId: payer.keyId, limited: limit ? [limit.account] : [] };
    if (!limit) return this.hold(accounts, 0);
    if (this.shared) return this.reserveShared(this.shared, accounts, limit, turnCapUsd);
    const spent = await this.readSettled(limit.account);
    // No await from here to the hold: the check and the hold are one step for this instance.
    const held = this.held.get(limit.account) ?? 0;
    if (spent + held >= limit.usd) throw this.refusal(limit, spent, held);
    const amount = Math.min(turnCapUsd ?? Infinity, limit.usd - spent - held);
    return this.hold(accounts, amount);
  }

  /** Refuses (429) when the payer has spent its limit; holds nothing (a check before work is queued). */
  async assertCanSpend(payer: Payer): Promise<void> {
    const limit = this.limitOf(payer);
    if (!limit) return;
    const spent = await this.book.total(limit.account);
    if (spent >= limit.usd) throw this.refusal(limit, spent, 0);
  }

  /** USD this instance holds for the account's running turns. */
  heldBy(account: string): number {
    return this.held.get(account) ?? 0;
  }

  /** The key's own budget on the key's ledger, else CLAUDE_MAX_COST_PER_USER on the tenant's; none when neither is set. */
  private limitOf(payer: Payer): Limit | undefined {
    if (payer.keyBudgetUsd != null && payer.keyId !== null)
      return { account: keyAccount(payer.keyId), usd: payer.keyBudgetUsd, source: "this key's own budget" };
    if (this.settings.perUserUsd !== undefined)
      return {
        account: tenantAccount(payer.tenant),
        usd: this.settings.perUserUsd,
        source: 'CLAUDE_MAX_COST_PER_USER',
      };
    return undefined;
  }

  /**
   * The account's total as of a moment when every settled turn is either in it or still held: a settle that ends
   * while the total is being read is not seen as held any more and maybe not yet in what was read, so read again.
   */
  private async readSettled(account: string): Promise<number> {
    for (;;) {
      const before = this.settledCount.get(account) ?? 0;
      const total = await this.book.total(account);
      if ((this.settledCount.get(account) ?? 0) === before) return total;
    }
  }

  private hold(accounts: Holder, amount: number): Reservation {
    for (const a of accounts.limited) this.held.set(a, (this.held.get(a) ?? 0) + amount);
    let open = true;
    const free = () => {
      if (!open) return;
      open = false;
      for (const a of accounts.limited) {
        const left = (this.held.get(a) ?? 0) - amount;
        if (left > 1e-12) this.held.set(a, left);
        else this.held.delete(a);
        this.settledCount.set(a, (this.settledCount.get(a) ?? 0) + 1);
      }
    };
    let settling: Promise<void> | undefined;
    return {
      release: free,
      settle: (costUsd, facts) =>
        (settling ??= (async () => {
          try {
            await this.book.append({
              tenant: accounts.tenant,
              keyId: accounts.keyId,
              sessionId: facts.sessionId,
              sessionName: facts.sessionName,
              turnId: facts.turnId,
              costUsd,
            });
          } finally {
            // Only once the row is in: a turn admitted meanwhile sees the cost either held or spent.
            free();
          }
        })()),
    };
  }

  /** `reserve` across nodes: the same rule, with the check and the hold done atomically in Redis. */
  private async reserveShared(
    shared: SharedHolds,
    accounts: Holder,
    limit: Limit,
    turnCapUsd: number | undefined,
  ): Promise<Reservation> {
    for (;;) {
      const version = await shared.version(limit.account);
      const spent = await this.book.total(limit.account);
      const outcome = await shared.hold(limit.account, spent, limit.usd, turnCapUsd ?? Infinity, version);
      if ('stale' in outcome) continue; // a turn settled meanwhile: its cost may be missing from what was read
      if (!outcome.held) throw this.refusal(limit, spent, outcome.heldUsd);
      let freeing: Promise<void> | undefined;
      // A hold Redis could not free lapses on its own (SharedHolds' longest hold).
      const free = () => (freeing ??= shared.free(limit.account, outcome.member).catch(() => undefined));
      let settling: Promise<void> | undefined;
      return {
        release: () => void free(),
        settle: (costUsd, facts) =>
          (settling ??= (async () => {
            try {
              await this.book.append({ tenant: accounts.tenant, keyId: accounts.keyId, ...facts, costUsd });
            } finally {
              await free();
            }
          })()),
      };
    }
  }

  private refusal(limit: Limit, spent: number, held: number): ProblemError {
    const reservedOnly = spent < limit.usd;
    const detail = reservedOnly
      ? `This API key has spent $${spent.toFixed(4)} of its $${limit.usd} limit (${limit.source}) and its running turns hold the remaining $${(limit.usd - spent).toFixed(4)}; retry when one of them ends.`
      : `This API key has spent $${spent.toFixed(4)} of its $${limit.usd} limit (${limit.source}); no new turn starts until the limit is raised.`;
    const err = new ProblemError(429, 'key-budget-exceeded', 'Spending limit of this key reached', detail, {
      spent_usd: round(spent),
      limit_usd: limit.usd,
      ...(held > 0 ? { reserved_usd: round(held) } : {}),
    });
    if (reservedOnly) err.retryAfterSeconds = RESERVED_RETRY_SECONDS;
    return err;
  }
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;
