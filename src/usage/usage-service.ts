// Usage reports: cost, tokens and turns from history, grouped by key, session, model or day, for one tenant or all.
import type { KeyService } from '../security/keys-service.js';
import type { SeedUsage, UsageGroup, UsageRepo, UsageSums } from '../store/usage-repo.js';

export type UsageGroupBy = 'key' | 'session' | 'model' | 'day';

export interface UsageReportQuery {
  /** null = every tenant (admin). */
  owner: string | null;
  groupBy: UsageGroupBy;
  from?: string;
  to?: string;
}

export interface UsageReportGroup extends UsageSums {
  group: string | null;
  owner?: string;
  key_name?: string | null;
}

export interface UsageReportResult extends SeedUsage {
  group_by: UsageGroupBy;
  from: string | null;
  to: string | null;
  totals: UsageSums;
  groups: UsageReportGroup[];
}

const ZERO: UsageSums = {
  cost_usd: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_creation_tokens: 0,
  turns: 0,
};

function sums(g: UsageGroup): UsageSums {
  const { cost_usd, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, turns } = g;
  return { cost_usd, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, turns };
}

export class UsageService {
  constructor(
    private readonly repo: UsageRepo,
    private readonly keys: KeyService | undefined,
  ) {}

  async report(q: UsageReportQuery): Promise<UsageReportResult> {
    const rows = await this.repo.summarize({
      owner: q.owner,
      groupBy: q.groupBy === 'key' ? 'owner' : q.groupBy,
      from: q.from,
      to: q.to,
    });
    const groups: UsageReportGroup[] = [];
    for (const row of rows) {
      if (q.groupBy === 'key') {
        // Each key is its own tenant: the group of a tenant is its key (the tenant itself in open mode or for a removed key).
        const owner = row.key ?? '';
        const key = await this.keys?.keyOfTenant(owner);
        groups.push({ group: key?.id ?? owner, owner, key_name: key?.name ?? null, ...sums(row) });
      } else if (q.groupBy === 'session') {
        groups.push({ group: row.key, owner: row.owner, ...sums(row) });
      } else {
        groups.push({ group: row.key, ...sums(row) });
      }
    }
    const totals = groups.reduce<UsageSums>(
      (t, g) => ({
        cost_usd: t.cost_usd + g.cost_usd,
        input_tokens: t.input_tokens + g.input_tokens,
        output_tokens: t.output_tokens + g.output_tokens,
        cache_read_tokens: t.cache_read_tokens + g.cache_read_tokens,
        cache_creation_tokens: t.cache_creation_tokens + g.cache_creation_tokens,
        turns: t.turns + g.turns,
      }),
      { ...ZERO },
    );
    const seed = await this.repo.seedUsage(q.owner);
    return { group_by: q.groupBy, from: q.from ?? null, to: q.to ?? null, totals, groups, ...seed };
  }
}
