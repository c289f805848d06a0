// `npm run bench:wall`: what the wall costs. Three services against one scripted model, their samples interleaved so
// load on the machine falls on all alike: walled (the default), no wall with the Bash sandbox (where bubblewrap is
// missing), and neither. First turns (POST /sessions + POST /chat) and follow-ups on a live session; medians and
// their differences. See docs/benchmarks.md.
//
//   BENCH_QUICK=1   a few samples (a smoke run, not figures to quote)
import { loadavg } from 'node:os';
import { ModelServer } from '../test/support/model-server.js';
import { startTestServer, type TestServer } from '../test/support/server.js';
import { summarize } from './lib.js';

const QUICK = process.env.BENCH_QUICK === '1';
const N_FIRST = QUICK ? 3 : 20;
const N_FOLLOW = QUICK ? 5 : 40;
const ANSWER = ['Sure. ', 'A short answer ', 'in a few chunks.'];

const VARIANTS = {
  walled: {},
  'sandbox only': { WALL_ENABLED: 'false', WALL_UNCONFINED_TENANTS: 'true' },
  neither: { WALL_ENABLED: 'false', WALL_UNCONFINED_TENANTS: 'true', SANDBOX_ENABLED: 'false' },
} as const;
type Variant = keyof typeof VARIANTS;

const model = await ModelServer.start();
model.script({ match: /[\s\S]*/, steps: [{ text: ANSWER }] });
model.onRequest(() => (model.requests.length = 0));
const servers = new Map<Variant, TestServer>();

async function call(t: TestServer, path: string, method: string, json?: unknown): Promise<void> {
  const res = await t.request(`/api/v1${path}`, { method, json });
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

const timed = async (run: () => Promise<void>) => {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
};

try {
  for (const [name, env] of Object.entries(VARIANTS) as Array<[Variant, Record<string, string>]>) {
    servers.set(name, await startTestServer(model.url, { LOG_LEVEL: 'silent', ...env }));
  }
  const first = new Map<Variant, number[]>();
  const follow = new Map<Variant, number[]>();
  const order = [...servers.keys()];
  // Warm-up: one session and turn on each.
  for (const [, t] of servers) {
    await call(t, '/sessions', 'POST', { name: 'warm' });
    await call(t, '/sessions/warm/chat', 'POST', { message: 'warm-up' });
  }
  for (let i = 0; i < N_FIRST; i++) {
    // Rotate which variant goes first, so none always runs right after another's process exit.
    for (const v of [...order.slice(i % order.length), ...order.slice(0, i % order.length)]) {
      const t = servers.get(v)!;
      const ms = await timed(async () => {
        await call(t, '/sessions', 'POST', { name: `first-${i}` });
        await call(t, `/sessions/first-${i}/chat`, 'POST', { message: `first ${i}` });
      });
      first.set(v, [...(first.get(v) ?? []), ms]);
      await call(t, `/sessions/first-${i}`, 'DELETE');
    }
  }
  for (let i = 0; i < N_FOLLOW; i++) {
    for (const v of [...order.slice(i % order.length), ...order.slice(0, i % order.length)]) {
      const ms = await timed(() => call(servers.get(v)!, '/sessions/warm/chat', 'POST', { message: `again ${i}` }));
      follow.set(v, [...(follow.get(v) ?? []), ms]);
    }
  }
  const lines = [
    `wall bench: ${N_FIRST} first turns and ${N_FOLLOW} follow-ups per variant, interleaved; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
    '',
    '| case | variant | n | median ms | p90 ms | median − neither |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const [label, samples] of [
    ['first turn (POST /sessions + POST /chat)', first],
    ['follow-up on the live session', follow],
  ] as const) {
    const base = summarize(samples.get('neither')!).median;
    for (const v of order) {
      const s = summarize(samples.get(v)!);
      const delta = s.median - base;
      lines.push(
        `| ${label} | ${v} | ${s.n} | ${s.median.toFixed(0)} | ${s.p90.toFixed(0)} | ${v === 'neither' ? '' : `${delta >= 0 ? '+' : ''}${delta.toFixed(0)}`} |`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const t of servers.values()) await t.cleanup();
  await model.close();
}
