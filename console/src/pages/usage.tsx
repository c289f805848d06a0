// Usage: cost and tokens by day and by model, as SVG bar charts over the caller's turns.
import { api } from '../api';
import { BarChart } from '../parts/bar-chart';
import { Empty, Loading, ProblemBox, useLoad, usd } from '../parts/status';

interface Group {
  group: string | null;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  turns: number;
}

interface Usage {
  totals: Omit<Group, 'group'>;
  groups: Group[];
}

const tokens = (n: number) => `${n.toLocaleString()} tokens`;

export function UsagePage() {
  const byDay = useLoad(() => api<Usage>('/usage?group_by=day'), []);
  const byModel = useLoad(() => api<Usage>('/usage?group_by=model'), []);
  const day = byDay.value?.data;
  const model = byModel.value?.data;
  const bars = (u: Usage | undefined, f: (g: Group) => number) =>
    (u?.groups ?? []).map((g) => ({ label: g.group ?? '(none)', value: f(g) }));
  return (
    <section>
      <h1>Usage</h1>
      <ProblemBox problem={byDay.problem ?? byModel.problem} />
      {byDay.loading && !day ? (
        <Loading what="usage" />
      ) : !day || day.groups.length === 0 ? (
        <Empty>No turns yet, so no usage.</Empty>
      ) : (
        <>
          <p>
            Total: {usd(day.totals.cost_usd)} · {tokens(day.totals.input_tokens + day.totals.output_tokens)} ·{' '}
            {day.totals.turns} turns
          </p>
          <div class="charts">
            <BarChart title="Cost by day" bars={bars(day, (g) => g.cost_usd)} format={usd} />
            <BarChart title="Tokens by day" bars={bars(day, (g) => g.input_tokens + g.output_tokens)} format={tokens} />
            <BarChart title="Cost by model" bars={bars(model, (g) => g.cost_usd)} format={usd} />
            <BarChart
              title="Tokens by model"
              bars={bars(model, (g) => g.input_tokens + g.output_tokens)}
              format={tokens}
            />
          </div>
        </>
      )}
    </section>
  );
}
