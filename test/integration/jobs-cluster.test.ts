// Jobs across nodes: real server processes on one PostgreSQL database, one Redis and one shared folder — every job runs once, a SIGKILLed node's job finishes on another, roles, a key's share across nodes.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OWNER_ENV } from '../../src/engine/orphans.js';
import { makeCliEnv, type CliEnv } from '../support/cli-env.js';
import { ModelServer, promptTexts } from '../support/model-server.js';
import { needs, REDIS_TEST_URL } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';
import { cliProcesses, waitForNoCliProcesses } from '../support/processes.js';
import { apiOf, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { serverProcessEnv } from '../support/server-process.js';
import { eventually } from '../support/wait.js';
import { WebhookReceiver } from '../jobs/webhook-receiver.js';

const KEY = 'cluster-test-key-0001';
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const DIR_PREFIX = join(realpathSync(tmpdir()), 'cc-api-jobs-cluster-');
const skip = await needs('jobs across nodes', 'redis', 'postgresql');

interface Node extends ServerProcess {
  id: string;
  api(path: string, init?: { method?: string; json?: unknown }): Promise<Response>;
}

interface Cluster {
  nodes: Node[];
  /** Starts node `i` again with the environment it had (after it was killed). */
  restart(i: number): Promise<Node>;
  /** The folder the nodes share (DATA_DIR and workspaces). */
  dir: string;
}

/** Whether the CLI process `pid` was spawned by the server process `server` (the owner mark in its environment). */
function spawnedBy(pid: number, server: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .some((v) => v.startsWith(`${OWNER_ENV}=${server}:`));
  } catch {
    return false;
  }
}

async function json(res: Response) {
  const body = await res.json();
  if (!res.ok) throw new Error(`${res.status}: ${JSON.stringify(body)}`);
  return body.data;
}

describe.skipIf(skip)('jobs across nodes', () => {
  let model: ModelServer;
  let cli: CliEnv;
  let redis: Redis;
  const children: ChildProcess[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    model = await ModelServer.start();
    cli = makeCliEnv(model.url);
    redis = new Redis(REDIS_TEST_URL);
  });
  afterEach(async () => {
    for (const child of children.splice(0))
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await waitForNoCliProcesses({ under: DIR_PREFIX }, 20_000);
    for (const c of cleanups.splice(0)) await c();
  });
  afterAll(async () => {
    redis?.disconnect();
    await model?.close();
    cli?.cleanup();
  });

  /** Starts one node process per role, one after the other, on a new database, Redis prefix and shared folder. */
  async function cluster(roles: Array<'all' | 'api' | 'worker'>, env: Record<string, string> = {}): Promise<Cluster> {
    const db = await createTempDatabase('cca_jobs_cluster');
    const prefix = `cca-test-cluster-${randomBytes(4).toString('hex')}:`;
    const dir = realpathSync(mkdtempSync(DIR_PREFIX));
    cleanups.push(async () => {
      await db.drop();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      rmSync(dir, { recursive: true, force: true });
    });
    const nodes: Node[] = [];
    const startNode = async (i: number, role: string): Promise<Node> => {
      const id = `node-${i}-${role}`;
      const server = await startServerProcess(dir, {
        ...cli.env,
        API_KEYS: KEY,
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: db.url,
        REDIS_URL: REDIS_TEST_URL,
        REDIS_KEY_PREFIX: prefix,
        NODE_ID: id,
        NODE_ROLE: role,
        DATA_DIR: join(dir, 'data'),
        APPROVED_DIRECTORY: join(dir, 'ws'),
        CLAUDE_CONFIG_DIR: cli.configDir,
        WEBHOOK_SECRET: SECRET,
        RATE_LIMIT_REQUESTS: '0',
        MAX_CONCURRENT_TURNS: '2',
        JOB_CONCURRENCY: '1',
        JOB_LOCK_SECONDS: '3',
        SESSION_IDLE_SECONDS: '2',
        LOG_LEVEL: 'info',
        ...env,
      });
      children.push(server.child);
      const call = apiOf(server.url, KEY);
      return {
        ...server,
        id,
        api: (path, init = {}) => call(`/api/v1${path}`, { method: init.method ?? 'GET', json: init.json }),
      };
    };
    for (const [i, role] of roles.entries()) nodes.push(await startNode(i, role));
    return { nodes, dir, restart: (i) => startNode(i, roles[i]!) };
  }

  const createJob = async (node: Node, session: string, message: string) =>
    json(await node.api(`/sessions/${session}/jobs`, { method: 'POST', json: { message } }));
  const ended = (node: Node, session: string, id: string, timeoutMs = 90_000) =>
    eventually(
      async () => {
        const j = await json(await node.api(`/sessions/${session}/jobs/${id}`));
        return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      timeoutMs,
      `job ${id} to end`,
    );
  /** The node whose engine runs a turn now (health counts its busy turns). */
  const runningOn = (nodes: Node[]) =>
    eventually(
      async () => {
        for (const n of nodes) if ((await json(await n.api('/health'))).engine.turns_running > 0) return n;
        return undefined;
      },
      20_000,
      'a node to run the turn',
    );

  it('runs every job of several sessions exactly once, in order per session, whichever node takes it; each webhook arrives once', async () => {
    const hook = await WebhookReceiver.start(SECRET);
    cleanups.push(() => hook.close());
    // Webhook attempts go through the BullMQ queue `webhooks`, taken by either node.
    const { nodes } = await cluster(['all', 'all'], { WEBHOOK_URL: `${hook.url}/all`, WEBHOOK_ALLOW_PRIVATE: 'true' });
    const [a, b] = nodes as [Node, Node];
    const sessions = ['c-one', 'c-two'];
    for (const s of sessions)
      expect((await a.api('/sessions', { method: 'POST', json: { name: s } })).status).toBe(201);
    const jobs: Array<{ session: string; id: string; message: string; node: Node }> = [];
    for (let i = 0; i < 4; i++)
      for (const s of sessions) {
        const message = `${s}-job-${i}`;
        // Queued on either node, alternately.
        const node = i % 2 === 0 ? a : b;
        const job = await createJob(node, s, message);
        jobs.push({ session: s, id: job.id, message, node });
      }
    const results = [];
    for (const j of jobs) results.push({ ...j, row: await ended(j.node, j.session, j.id) });
    for (const r of results) expect(r.row, r.message).toMatchObject({ status: 'done', attempts: 1 });
    for (const r of results) expect(r.row.result.content).toBe(`echo: ${r.message}`);
    // Each job's two messages (started, succeeded) arrived once, signed, whichever node stored or sent them.
    const got = await hook.waitFor(jobs.length * 2);
    for (const r of got) expect(r.verifyError).toBeUndefined();
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(got.length);
    for (const j of jobs)
      expect(
        got
          .filter((r) => r.verified.data.id === j.id)
          .map((r) => r.verified.type)
          .sort(),
      ).toEqual(['job.started', 'job.succeeded']);
    for (const j of jobs) {
      const row = await eventually(
        async () => {
          const now = await json(await a.api(`/sessions/${j.session}/jobs/${j.id}`));
          return now.webhooks.every((w: { status: string }) => w.status === 'delivered') ? now : undefined;
        },
        10_000,
        `the webhooks of ${j.id} to be recorded`,
      );
      expect(row.webhooks.map((w: { attempts: number }) => w.attempts)).toEqual([1, 1]);
    }
    // Exactly once: the model saw each job's prompt one time.
    const prompts = model.mainRequests().map((r) => r.prompt);
    for (const j of jobs)
      expect(
        prompts.filter((p) => p === j.message),
        j.message,
      ).toHaveLength(1);
    // In order within a session: each job started after the one before it ended.
    for (const s of sessions) {
      const rows = results.filter((r) => r.session === s).map((r) => r.row);
      for (let i = 1; i < rows.length; i++)
        expect(Date.parse(rows[i].started_at)).toBeGreaterThanOrEqual(Date.parse(rows[i - 1].finished_at));
    }
    // Both nodes see the whole (now empty) queue in health and metrics. BullMQ marks a job completed after its
    // processor returns, which is after the row says done, so the figures settle a moment later.
    for (const n of nodes) {
      const health = await eventually(
        async () => {
          const h = await json(await n.api('/health'));
          return h.jobs.waiting === 0 && h.jobs.active === 0 ? h : undefined;
        },
        10_000,
        'queue empty',
      );
      expect(health.node).toMatchObject({ id: n.id, role: 'all' });
      expect(health.jobs).toMatchObject({ backend: 'redis', runs_jobs: true, ok: true, waiting: 0, active: 0 });
      const metrics = await (await apiOf(n.url, KEY)('/metrics')).text();
      expect(metrics).toContain(`cca_node_info{node="${n.id}",role="all"} 1`);
      expect(metrics).toContain('cca_job_queue_depth{state="active"} 0');
      // The webhook queue is there too (its figures settle as the jobs' do).
      expect(health.jobs.webhooks).toMatchObject({ failed: 0 });
      expect(metrics).toContain('cca_webhook_queue_depth{state="failed"} 0');
    }
  });

  it('finishes on the other node a job whose node is SIGKILLed mid-turn; its session resumes; nothing queued is lost', async () => {
    const { nodes, dir } = await cluster(['all', 'all']);
    const [a] = nodes as [Node, Node];
    model.script({ match: 'cluster-kill-job', times: 1, steps: [{ hang: true }] });
    model.script({ match: 'cluster-kill-job', steps: [{ text: 'finished elsewhere' }] });
    expect((await a.api('/sessions', { method: 'POST', json: { name: 'c-kill' } })).status).toBe(201);
    await json(await a.api('/sessions/c-kill/chat', { method: 'POST', json: { message: 'the word is walnut' } }));
    const job = await createJob(a, 'c-kill', 'cluster-kill-job');
    const behind = await createJob(a, 'c-kill', 'cluster-kill-behind');
    const hung = await model.waitFor((r) => r.prompt === 'cluster-kill-job');
    const victim = await runningOn(nodes);
    const survivor = nodes.find((n) => n !== victim)!;
    const victimCli = cliProcesses({ under: dir })
      .map((p) => p.pid)
      .filter((pid) => spawnedBy(pid, victim.child.pid!));
    expect(victimCli.length).toBeGreaterThan(0);

    victim.child.kill('SIGKILL');
    await victim.exited;
    // Its CLI dies with it (parent-death signal): the job is never run twice at once.
    await eventually(() => victimCli.every((pid) => !cliProcesses().some((p) => p.pid === pid)), 10_000, 'CLI gone');

    const done = await ended(survivor, 'c-kill', job.id);
    expect(done, JSON.stringify(done.error)).toMatchObject({
      status: 'done',
      restarts: 1,
      attempts: 2,
      result: { content: 'finished elsewhere' },
    });
    const rerun = model
      .mainRequests()
      .filter((r) => r.prompt === 'cluster-kill-job')
      .at(-1)!;
    expect(rerun).not.toBe(hung);
    expect(promptTexts(rerun)[0]).toBe('the word is walnut'); // the session resumed on the other node
    expect(model.mainRequests().filter((r) => r.prompt === 'cluster-kill-job')).toHaveLength(2);
    const after = await ended(survivor, 'c-kill', behind.id);
    expect(after).toMatchObject({ status: 'done', attempts: 1, result: { content: 'echo: cluster-kill-behind' } });
    expect(Date.parse(after.started_at)).toBeGreaterThanOrEqual(Date.parse(done.finished_at));
  });

  it('fails the job cleanly when its node dies and JOB_RETRY_ON_RESTART=false', async () => {
    const { nodes } = await cluster(['all', 'all'], { JOB_RETRY_ON_RESTART: 'false' });
    const [a] = nodes as [Node, Node];
    model.script({ match: 'cluster-no-retry', steps: [{ hang: true }] });
    expect((await a.api('/sessions', { method: 'POST', json: { name: 'c-noretry' } })).status).toBe(201);
    const job = await createJob(a, 'c-noretry', 'cluster-no-retry');
    await model.waitFor((r) => r.prompt === 'cluster-no-retry');
    const victim = await runningOn(nodes);
    const survivor = nodes.find((n) => n !== victim)!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    const failed = await ended(survivor, 'c-noretry', job.id);
    expect(failed).toMatchObject({ status: 'failed', error: { type: '/problems/job-interrupted', status: 503 } });
    expect(failed.error.detail).toContain('JOB_RETRY_ON_RESTART');
    expect(model.mainRequests().filter((r) => r.prompt === 'cluster-no-retry')).toHaveLength(1);
  });

  it('settles at once, when a node restarts with its NODE_ID, the job its previous life left running', async () => {
    // A hold longer than the restart takes: only the NODE_ID tells the restarted node the job was its own.
    const c = await cluster(['all'], { JOB_LOCK_SECONDS: '20' });
    const [a] = c.nodes as [Node];
    model.script({ match: 'cluster-own-job', times: 1, steps: [{ hang: true }] });
    model.script({ match: 'cluster-own-job', steps: [{ text: 'mine again' }] });
    expect((await a.api('/sessions', { method: 'POST', json: { name: 'c-own' } })).status).toBe(201);
    const job = await createJob(a, 'c-own', 'cluster-own-job');
    await model.waitFor((r) => r.prompt === 'cluster-own-job');
    await eventually(
      async () => (await json(await a.api(`/sessions/c-own/jobs/${job.id}`))).status === 'running',
      10_000,
      'running',
    );
    a.child.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    const again = await c.restart(0);
    // Settled by the restarted node's start, while the dead life's holds had not lapsed yet.
    await eventually(
      async () => (await json(await again.api(`/sessions/c-own/jobs/${job.id}`))).restarts === 1,
      10_000,
      'the job to be re-queued',
    );
    expect(Date.now() - killedAt).toBeLessThan(20_000);
    // It runs once BullMQ's own lock on the dead life's try lapses and its stalled check hands the job out again.
    expect(await ended(again, 'c-own', job.id, 120_000)).toMatchObject({
      status: 'done',
      restarts: 1,
      result: { content: 'mine again' },
    });
  });

  it('runs on the worker node a job queued on the api node, and cancels it there from the api node', async () => {
    const { nodes } = await cluster(['api', 'worker']);
    const [api, worker] = nodes as [Node, Node];
    // The worker node serves health, probes and metrics only.
    expect((await worker.api('/sessions')).status).toBe(404);
    expect((await json(await worker.api('/health'))).node).toMatchObject({ id: worker.id, role: 'worker' });
    expect((await worker.api('/health/ready')).status).toBe(200);
    expect((await json(await api.api('/health'))).jobs).toMatchObject({ backend: 'redis', runs_jobs: false });

    expect((await api.api('/sessions', { method: 'POST', json: { name: 'c-roles' } })).status).toBe(201);
    const job = await createJob(api, 'c-roles', 'cluster-roles-job');
    expect(await ended(api, 'c-roles', job.id)).toMatchObject({
      status: 'done',
      result: { content: 'echo: cluster-roles-job' },
    });

    model.script({ match: 'cluster-roles-hang', steps: [{ hang: true }] });
    const hanging = await createJob(api, 'c-roles', 'cluster-roles-hang');
    await model.waitFor((r) => r.prompt === 'cluster-roles-hang');
    expect(await runningOn(nodes)).toBe(worker);
    await eventually(
      async () => (await json(await api.api(`/sessions/c-roles/jobs/${hanging.id}`))).status === 'running',
      10_000,
      'running',
    );
    const res = await api.api(`/sessions/c-roles/jobs/${hanging.id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect((await res.json()).data).toMatchObject({ status: 'cancelled', result: { status: 'interrupted' } });
  });

  it('holds MAX_CONCURRENT_TURNS_PER_KEY across nodes', async () => {
    const { nodes } = await cluster(['all', 'all'], { MAX_CONCURRENT_TURNS_PER_KEY: '1' });
    const [a, b] = nodes as [Node, Node];
    model.script({ match: 'cluster-key-hang', steps: [{ hang: true }] });
    for (const s of ['c-key-1', 'c-key-2'])
      expect((await a.api('/sessions', { method: 'POST', json: { name: s } })).status).toBe(201);
    const first = await createJob(a, 'c-key-1', 'cluster-key-hang');
    await model.waitFor((r) => r.prompt === 'cluster-key-hang');
    const second = await createJob(b, 'c-key-2', 'cluster-key-second');
    // Each node's own engine would let it start (one turn of the key per node); the key's share is cluster-wide.
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      expect((await json(await b.api(`/sessions/c-key-2/jobs/${second.id}`))).status).toBe('queued');
      await new Promise((resolve) => setTimeout(resolve, 250)); // sampling a state that must not change
    }
    expect(model.mainRequests().some((r) => r.prompt === 'cluster-key-second')).toBe(false);
    expect((await a.api(`/sessions/c-key-1/jobs/${first.id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect(await ended(b, 'c-key-2', second.id)).toMatchObject({ status: 'done' });
  });

  it('holds JOB_STARTS_PER_KEY across nodes: a job over the rate waits in the delayed queue, then runs', async () => {
    const windowMs = 6_000;
    const { nodes } = await cluster(['all', 'all'], {
      JOB_STARTS_PER_KEY: '2',
      JOB_STARTS_WINDOW_SECONDS: String(windowMs / 1000),
    });
    const [a, b] = nodes as [Node, Node];
    const sessions = ['c-rate-1', 'c-rate-2', 'c-rate-3'];
    for (const s of sessions)
      expect((await a.api('/sessions', { method: 'POST', json: { name: s } })).status).toBe(201);
    // Each node alone would start two of the key's jobs in the window; the window is the cluster's.
    const jobs = [];
    for (const [i, s] of sessions.entries()) {
      const node = i % 2 === 0 ? a : b;
      jobs.push({ session: s, node, id: (await createJob(node, s, `cluster-rate-${i}`)).id });
    }
    // The one over the rate is moved to BullMQ's delayed set (not failed) until the window has room.
    await eventually(
      async () => ((await json(await a.api('/health'))).jobs.delayed >= 1 ? true : undefined),
      5_000,
      'a job in the delayed set',
    );
    const rows = [];
    for (const j of jobs) rows.push(await ended(j.node, j.session, j.id));
    for (const r of rows) expect(r).toMatchObject({ status: 'done', attempts: 1 });
    const starts = rows.map((r) => Date.parse(r.started_at)).sort((x, y) => x - y);
    const firstCreated = Math.min(...rows.map((r) => Date.parse(r.created_at)));
    expect(starts[1]!).toBeLessThan(firstCreated + windowMs);
    expect(starts[2]!).toBeGreaterThanOrEqual(firstCreated + windowMs);
  });

  it('refuses NODE_ROLE=worker or api without REDIS_URL at start, saying why', async () => {
    const dir = realpathSync(mkdtempSync(DIR_PREFIX));
    cleanups.push(async () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    });
    for (const role of ['worker', 'api']) {
      const start = startServerProcess(
        dir,
        serverProcessEnv(cli, dir, KEY, {
          NODE_ROLE: role,
        }),
      );
      const err = await start.then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toMatch(/exited with [1-9]/);
      expect(err?.message).toContain(`NODE_ROLE: \`${role}\` needs REDIS_URL`);
    }
  });
});
