// Load benchmark (npm run bench:load): read routes under autocannon with auth and rate limiting on, against a bare
// Fastify route in the same rounds, then 20 sessions chatting at once against a slowly streaming scripted model.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { makeCliEnv } from '../test/support/cli-env.js';
import { ModelServer } from '../test/support/model-server.js';
import { serverProcessEnv } from '../test/support/server-process.js';
import { cliProcesses, waitForNoCliProcesses } from '../test/support/processes.js';
import { summarize } from './lib.js';

const KEY = 'bench-load-key-0123456789';
const SESSIONS = Number(process.env.LOAD_SESSIONS ?? 20);
const DURATION = Number(process.env.LOAD_SECONDS ?? 4);
/** Rounds of the read cases; each round runs every case once, in a rotated order, and a ratio compares within a round. */
const ROUNDS = Number(process.env.LOAD_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 20);

/** Resident memory (VmRSS) of a process in MiB, or 0 once it is gone. */
function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function startProcess(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) {
        // Ready: keep draining its output (one log line per request) without keeping it.
        child.stdout.off('data', onData).resume();
        child.stderr.off('data', onData).resume();
        resolve({ child, url: m[1]! });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited ${code} before ready:\n${out}`)));
  });
}

async function cannon(url: string, headers: Record<string, string>) {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    status429: (r as unknown as Record<string, number>)['4xx'] ?? 0,
  };
}
type Cannon = Awaited<ReturnType<typeof cannon>>;

const middle = (values: number[]) => summarize(values).median;

async function main(): Promise<void> {
  const model = await ModelServer.start();
  const cli = makeCliEnv(model.url);
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cc-api-load-')));
  const env = serverProcessEnv(cli, dir, KEY, {
    LOG_LEVEL: 'info', // the start-up line says where it listens
    // Rate limiting stays on, with a budget the load fits in: the point is its cost, not its 429s.
    RATE_LIMIT_REQUESTS: '100000000',
    RATE_LIMIT_WINDOW: '60',
    MAX_LIVE_SESSIONS: String(SESSIONS),
    MAX_CONCURRENT_TURNS: String(SESSIONS),
    CLAUDE_TIMEOUT_SECONDS: '120',
    // SQLITE_READ_CACHE_MB=0 npm run bench:load measures the read routes without the read cache.
    ...(process.env.SQLITE_READ_CACHE_MB !== undefined && { SQLITE_READ_CACHE_MB: process.env.SQLITE_READ_CACHE_MB }),
  });
  const server = await startProcess(['dist/cli.js', 'serve'], env, /listening on (http:\/\/[^"\s]+)/);
  const bare = await startProcess(
    ['--import', 'tsx', 'bench/bare-server.ts'],
    { PATH: process.env.PATH ?? '' },
    /bare listening on (http:\/\/\S+)/,
  );
  const serverPid = server.child.pid!;
  let peakServer = 0;
  let peakCli = 0;
  const sampler = setInterval(() => {
    peakServer = Math.max(peakServer, rssMiB(serverPid));
    peakCli = Math.max(
      peakCli,
      cliProcesses({ configDir: cli.configDir }).reduce((sum, p) => sum + rssMiB(p.pid), 0),
    );
  }, 100);
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: { 'x-api-key': KEY, 'content-type': 'application/json', ...(init.headers as object) },
    });
  try {
    // A session with some history to read.
    await api('/api/v1/sessions', { method: 'POST', body: JSON.stringify({ name: 'reader' }) });
    for (let i = 0; i < 10; i++)
      await api('/api/v1/sessions/reader/chat', { method: 'POST', body: JSON.stringify({ message: `history ${i}` }) });
    for (let i = 0; i < 30; i++)
      await api('/api/v1/sessions', { method: 'POST', body: JSON.stringify({ name: `s${i}` }) });

    const auth = { 'x-api-key': KEY };
    const cases = [
      { name: 'bare', url: `${bare.url}/sessions`, headers: {} },
      { name: 'sessions', url: `${server.url}/api/v1/sessions?limit=20`, headers: auth },
      { name: 'history', url: `${server.url}/api/v1/sessions/reader/history?limit=20`, headers: auth },
    ];
    const runs: Record<string, Cannon[]> = { bare: [], sessions: [], history: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < cases.length; k++) {
        const c = cases[(round + k) % cases.length]!;
        runs[c.name]!.push(await cannon(c.url, c.headers));
      }
    }
    /** Median figures of a case over the rounds; its ratio is the median of the per-round ratios to bare Fastify. */
    const of = (name: string) => {
      const list = runs[name]!;
      return {
        rps: middle(list.map((r) => r.rps)),
        p50: middle(list.map((r) => r.p50)),
        p99: middle(list.map((r) => r.p99)),
        errors: list.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
        ratio: middle(list.map((r, i) => r.rps / runs.bare![i]!.rps)),
        ratios: list.map((r, i) => (r.rps / runs.bare![i]!.rps).toFixed(2)),
      };
    };

    // 20 sessions chatting at once, the model streaming each answer slowly.
    model.script({
      match: /^load-chat/,
      steps: [{ text: ['streaming ', 'a ', 'slow ', 'answer ', 'for ', 'load'], chunkDelayMs: 250 }],
    });
    for (let i = 0; i < SESSIONS; i++)
      await api('/api/v1/sessions', { method: 'POST', body: JSON.stringify({ name: `chat${i}` }) });
    const times: number[] = [];
    let chatErrors = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: SESSIONS }, async (_, i) => {
        for (let round = 0; round < 2; round++) {
          const t0 = performance.now();
          const res = await api(`/api/v1/sessions/chat${i}/chat`, {
            method: 'POST',
            body: JSON.stringify({ message: `load-chat ${i} ${round}` }),
          });
          if (res.status !== 200) chatErrors++;
          await res.arrayBuffer();
          times.push(performance.now() - t0);
        }
      }),
    );
    const chatWall = Date.now() - started;
    const chat = summarize(times);

    clearInterval(sampler);
    const row = (name: string, r: ReturnType<typeof of>, vsBare?: boolean) =>
      `| ${name} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.errors} | ${vsBare ? `${r.ratio.toFixed(2)}× (rounds: ${r.ratios.join(', ')}; target ≥ 0.5×) ${r.ratio >= 0.5 ? 'PASS' : 'MISS'}` : '—'} |`;
    console.log(
      `\nLoad: ${CONNECTIONS} connections, ${ROUNDS} rounds × ${DURATION} s per read route (medians); ${SESSIONS} sessions × 2 chats at once\n`,
    );
    console.log('| case | req/s | p50 ms | p99 ms | errors | vs bare Fastify |');
    console.log('|---|---:|---:|---:|---:|---|');
    console.log(row('bare Fastify GET (no auth)', of('bare')));
    console.log(row('GET /api/v1/sessions (auth + rate limit)', of('sessions'), true));
    console.log(row('GET /api/v1/sessions/{name}/history (auth + rate limit)', of('history'), true));
    console.log(
      `| ${SESSIONS} sessions chatting at once (slow stream ~1.5 s) | ${((SESSIONS * 2) / (chatWall / 1000)).toFixed(1)} turns/s | ${chat.median.toFixed(0)} | ${summarize(times).max.toFixed(0)} (max) | ${chatErrors} | — |`,
    );
    console.log(
      `\nPeak memory: server ${peakServer.toFixed(0)} MiB; all CLI processes together ${peakCli.toFixed(0)} MiB (${SESSIONS} live)`,
    );
  } finally {
    clearInterval(sampler);
    server.child.kill('SIGTERM');
    bare.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    await waitForNoCliProcesses({ configDir: cli.configDir }, 30_000).catch((e: unknown) =>
      console.error((e as Error).message),
    );
    await model.close();
    cli.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
