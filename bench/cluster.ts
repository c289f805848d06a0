// Cluster benchmark (npm run bench:cluster): sessions chatting against a scripted model that takes ~1 s a turn, on one node and on two (each capped at N live sessions and N turns), through both nodes as a load balancer would spread them.
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis } from '../src/store/redis.js';
import { makeCliEnv } from '../test/support/cli-env.js';
import { ModelServer } from '../test/support/model-server.js';
import { REDIS_TEST_URL } from '../test/support/needs.js';
import { createTempDatabase } from '../test/support/postgres.js';
import { waitForNoCliProcesses } from '../test/support/processes.js';
import { apiOf, startServerProcess, type ServerProcess } from '../test/support/server-process.js';
import { serverProcessEnv } from '../test/support/server-process.js';
import { percentile } from './lib.js';

const KEY = 'bench-cluster-key-0123456789';
/** Live sessions and concurrent turns per node (MAX_LIVE_SESSIONS = MAX_CONCURRENT_TURNS). */
const PER_NODE = Number(process.env.CLUSTER_PER_NODE ?? 2);
/** How long each case sends turns, after its warm-up. */
const SECONDS = Number(process.env.CLUSTER_SECONDS ?? 30);
/** The scripted answer: 5 chunks, 250 ms apart (about 1 s of model time per turn). */
const CHUNKS = ['one ', 'two ', 'three ', 'four ', 'five'];
const CHUNK_DELAY_MS = 250;

interface CaseResult {
  nodes: number;
  clients: number;
  turns: number;
  failed: number;
  turnsPerSecond: number;
  p50: number;
  p95: number;
  forwarded: number;
}

async function runCase(nodeCount: number, model: ModelServer): Promise<CaseResult> {
  const cli = makeCliEnv(model.url);
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cc-bench-cluster-')));
  mkdirSync(join(dir, 'ws'));
  const db = await createTempDatabase('bench_cluster');
  const prefix = `cc-bench-${randomBytes(4).toString('hex')}:`;
  const env = serverProcessEnv(cli, dir, KEY, {
    DATABASE_URL: db.url,
    REDIS_URL: REDIS_TEST_URL,
    REDIS_KEY_PREFIX: prefix,
    CLUSTER_ENABLED: 'true',
    MAX_LIVE_SESSIONS: String(PER_NODE),
    MAX_CONCURRENT_TURNS: String(PER_NODE),
    // Every client uses one key: its share of a node is the node's whole capacity here (the default is half), or the
    // bench would measure the per-key share rather than what a node can serve.
    MAX_CONCURRENT_TURNS_PER_KEY: String(PER_NODE),
    MAX_LIVE_SESSIONS_PER_KEY: String(PER_NODE),
    // The sessions are started before the clock runs; a spare would only take a place of the cap.
    WARM_SPARES: '0',
    RATE_LIMIT_REQUESTS: '0',
    LOG_LEVEL: 'info', // the start is told by the 'listening on' line
  });
  const nodes: ServerProcess[] = [];
  try {
    for (let i = 0; i < nodeCount; i++) nodes.push(await startServerProcess(dir, { ...env, NODE_ID: `bench-${i}` }));
    const apis = nodes.map((n) => apiOf(n.url, KEY));
    const clients = PER_NODE * nodeCount;
    // Each session is created and first used on its own node, which then owns it.
    await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        const api = apis[i % nodeCount]!;
        const created = await api('/api/v1/sessions', { method: 'POST', json: { name: `s${i}` } });
        if (created.status !== 201) throw new Error(`create s${i}: ${created.status} ${await created.text()}`);
        const warm = await api(`/api/v1/sessions/s${i}/chat`, { method: 'POST', json: { message: 'warm up' } });
        if (warm.status !== 200) throw new Error(`warm-up s${i}: ${warm.status} ${await warm.text()}`);
      }),
    );
    model.script({ match: 'bench turn', steps: [{ text: CHUNKS, chunkDelayMs: CHUNK_DELAY_MS }] });
    const latencies: number[] = [];
    let failed = 0;
    let forwarded = 0;
    const deadline = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: clients }, async (_, i) => {
        // A load balancer spreading requests: client i's turns alternate between the nodes, so half go to a node
        // that does not own the session and are forwarded.
        for (let k = 0; Date.now() < deadline; k++) {
          const via = (i + k) % nodeCount;
          if (via !== i % nodeCount) forwarded++;
          const started = performance.now();
          const res = await apis[via]!(`/api/v1/sessions/s${i}/chat`, {
            method: 'POST',
            json: { message: `bench turn ${k}` },
          });
          await res.arrayBuffer();
          if (res.status === 200) latencies.push(performance.now() - started);
          else failed++;
        }
      }),
    );
    const sorted = latencies.sort((a, b) => a - b);
    return {
      nodes: nodeCount,
      clients,
      turns: sorted.length,
      failed,
      turnsPerSecond: sorted.length / SECONDS,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      forwarded,
    };
  } finally {
    for (const n of nodes) {
      n.child.kill('SIGTERM');
      await n.exited;
    }
    await waitForNoCliProcesses({ under: env.DATA_DIR }, 30_000).catch(() => undefined);
    cli.cleanup();
    await db.drop();
    const redis = await connectRedis(REDIS_TEST_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

const model = await ModelServer.start();
try {
  console.log(
    `cluster benchmark: ${PER_NODE} live sessions and turns per node, ~${(CHUNKS.length * CHUNK_DELAY_MS) / 1000} s of model time per turn, ${SECONDS} s per case`,
  );
  const one = await runCase(1, model);
  const two = await runCase(2, model);
  const row = (r: CaseResult) =>
    `${r.nodes} node(s): ${r.clients} clients, ${r.turns} turns (${r.failed} failed, ${r.forwarded} sent to a non-owner), ${r.turnsPerSecond.toFixed(2)} turns/s, p50 ${Math.round(r.p50)} ms, p95 ${Math.round(r.p95)} ms`;
  console.log(row(one));
  console.log(row(two));
  console.log(
    `throughput ratio 2 nodes / 1 node: ${(two.turnsPerSecond / one.turnsPerSecond).toFixed(2)}x (target >= 1.8x); p95 ratio ${(two.p95 / one.p95).toFixed(2)}`,
  );
} finally {
  await model.close();
}
