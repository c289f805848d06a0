// Rate limits and key budgets switched on, on the real chat, stream and job routes: the refusal comes before Claude is asked, nothing is recorded, and a budget refusal is in the audit trail when the answer arrives.
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';
import { eventually } from '../support/wait.js';

const ADMIN = 'limits-admin-key-0001';
const ctx = useTestServer({
  ADMIN_API_KEYS: ADMIN,
  RATE_LIMIT_REQUESTS: '50',
  RATE_LIMIT_WINDOW: '3600',
  CLAUDE_MAX_COST_PER_USER: '0.01',
});

type Route = 'chat' | 'stream' | 'job';
const PATHS: Record<Route, string> = { chat: 'chat', stream: 'chat/stream', job: 'jobs' };

/** One call of a route with `key` on session `name`. */
function call(route: Route, name: string, key: string, message: string) {
  return ctx.t.request(`/api/v1/sessions/${name}/${PATHS[route]}`, { method: 'POST', json: { message }, key });
}

const asked = (message: string) => ctx.model.mainRequests().filter((r) => r.prompt === message).length;

describe('a key with its own rate limit', () => {
  it.each(['chat', 'stream', 'job'] as const)(
    'is refused on the %s route once over it: 429 with Retry-After, Claude not asked, nothing recorded',
    async (route) => {
      const made = await ctx.t.request('/api/v1/keys', {
        method: 'POST',
        json: { name: `limited-${route}`, rate_limit: 2 },
        key: ADMIN,
      });
      expect(made.status).toBe(201);
      const { secret: key, tenant } = (await made.json()).data as { secret: string; tenant: string };
      const name = `rl-${route}`;
      expect((await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name }, key })).status).toBe(201);
      const first = await call(route, name, key, `rl-${route}-first`);
      expect(first.status).toBe(route === 'job' ? 202 : 200);
      expect(first.headers.get('x-ratelimit-remaining')).toBe('0');
      await first.arrayBuffer(); // a stream runs to its end

      const over = await call(route, name, key, `rl-${route}-over`);
      expect(over.status).toBe(429);
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await over.json()).toMatchObject({ type: '/problems/too-many-requests', limit: 2, window_seconds: 3600 });
      expect(asked(`rl-${route}-over`)).toBe(0);
      // Another key is not held back by this one's limit.
      const other = await ctx.t.request(`/api/v1/sessions/${name}`, {
        key: ADMIN,
        headers: { 'x-tenant': tenant },
      });
      expect(other.status).toBe(200);
      const history = await ctx.t.request(`/api/v1/sessions/${name}/history?limit=100`, {
        key: ADMIN,
        headers: { 'x-tenant': tenant },
      });
      const rows: Array<{ content: string }> = (await history.json()).data;
      expect(rows.some((r) => r.content === `rl-${route}-over`)).toBe(false);
    },
    120_000,
  );
});

describe('a key over its total budget (CLAUDE_MAX_COST_PER_USER)', () => {
  it('is refused on chat, stream and jobs before Claude is asked, and each refusal is audited by the time it is answered', async () => {
    const key = KEYS[1];
    expect((await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name: 'spent' }, key })).status).toBe(
      201,
    );
    // The first turn runs (nothing spent yet) and takes the key past $0.01.
    expect((await call('chat', 'spent', key, 'spend it')).status).toBe(200);

    for (const route of ['chat', 'stream'] as const) {
      const message = `over-budget-${route}`;
      const res = await call(route, 'spent', key, message);
      expect(res.status, route).toBe(429);
      const problem = await res.json();
      expect(problem).toMatchObject({ type: '/problems/key-budget-exceeded', limit_usd: 0.01 });
      expect(problem.spent_usd).toBeGreaterThan(0.01);
      expect(asked(message)).toBe(0);
      // Written before the answer: no waiting.
      const audit = await ctx.t.request(`/api/v1/audit?limit=100`, { key: ADMIN });
      const row = ((await audit.json()).data as Array<Record<string, any>>).find(
        (r) => r.request_id === problem.request_id,
      );
      expect(row).toMatchObject({
        status: 429,
        outcome: 'rejected',
        detail: { problem: '/problems/key-budget-exceeded' },
      });
    }

    const created = await call('job', 'spent', key, 'over-budget-job');
    if (created.status === 429) {
      expect((await created.json()).type).toBe('/problems/key-budget-exceeded');
    } else {
      // Accepted, then refused when its turn would start.
      expect(created.status).toBe(202);
      const job = (await created.json()).data;
      const ended = await eventually(
        async () => {
          const view = (await (await ctx.t.request(`/api/v1/sessions/spent/jobs/${job.id}`, { key })).json()).data;
          return view.status === 'failed' ? view : undefined;
        },
        30_000,
        'the job failing',
      );
      expect(ended.error).toMatchObject({ type: '/problems/key-budget-exceeded' });
    }
    expect(asked('over-budget-job')).toBe(0);
  }, 120_000);
});
