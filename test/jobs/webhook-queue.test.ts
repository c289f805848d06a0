// Webhook attempts as BullMQ jobs (REDIS_URL): dispatchers on one PostgreSQL and one Redis, as nodes are — each attempt sent once, retries delayed in the queue, rows without a job reconciled, a stopping node's attempt taken by another.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDispatcher, type DispatcherSettings } from '../../src/jobs/dispatcher.js';
import { generateWebhookSecret } from '../../src/jobs/secret.js';
import { attemptJobId, WebhookQueue } from '../../src/jobs/webhook-queue.js';
import { createStore, type JobRow, type Store } from '../../src/store/index.js';
import { dispatcherSettings, finishedJob } from '../support/job-rows.js';
import { needs, REDIS_TEST_URL } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';
import { eventually } from '../support/wait.js';
import { WebhookReceiver } from './webhook-receiver.js';

const skip = await needs('webhooks on BullMQ', 'redis', 'postgresql');
const secret = generateWebhookSecret();
const log = pino({ level: process.env.TEST_LOG ?? 'silent' });

describe.skipIf(skip)('webhook attempts on BullMQ', () => {
  const prefix = `cca-test-whq-${randomBytes(4).toString('hex')}:`;
  let db: { url: string; drop: () => Promise<void> };
  let store: Store;
  let hook: WebhookReceiver;
  /** The test's own view of the queue the dispatchers use. */
  let queue: Queue;
  const running: WebhookDispatcher[] = [];

  beforeAll(async () => {
    db = await createTempDatabase('cca_webhook_queue');
    store = await createStore(db.url);
    await store.migrate();
    hook = await WebhookReceiver.start(secret);
    queue = new Queue('webhooks', { connection: { url: REDIS_TEST_URL }, prefix: `${prefix}bull` });
  });
  afterEach(async () => {
    for (const d of running.splice(0)) await d.stop();
    hook.behaviour = () => 204;
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true });
    await queue?.close();
    await hook?.close();
    await store?.close();
    await db?.drop();
  });

  const settings = (extra: Partial<DispatcherSettings> = {}) =>
    dispatcherSettings(secret, { allowPrivate: true, ...extra });

  /** A node's dispatcher on the shared queue; `start` as a node that runs jobs does. */
  function node(name: string, extra: Partial<DispatcherSettings> = {}, start = true, redisUrl = REDIS_TEST_URL) {
    const q = WebhookQueue.open({ redisUrl, keyPrefix: prefix, nodeId: name, lockMs: 2_000 }, log);
    const d = new WebhookDispatcher(store, settings(extra), log, undefined, {}, q);
    running.push(d);
    if (start) d.start();
    return d;
  }

  const job = (path: string) => finishedJob(`${hook.url}${path}`);

  const settled = (jobId: string, timeoutMs = 30_000) =>
    eventually(
      async () => {
        const [d] = await store.deliveries.listByJobs([jobId]);
        return d && d.status !== 'pending' ? d : undefined;
      },
      timeoutMs,
      `the delivery of ${jobId} to settle`,
    );

  it('sends each attempt once when two nodes run the queue, whichever node stored it', async () => {
    const api = node('api', {}, false); // NODE_ROLE=api: stores and queues, never sends
    const nodes = [node('a'), node('b')];
    expect(nodes[0]!.backend).toBe('redis');
    const jobs = Array.from({ length: 12 }, () => job('/shared'));
    for (const [i, j] of jobs.entries()) await [api, ...nodes][i % 3]!.enqueue('job.succeeded', j);
    for (const j of jobs) expect(await settled(j.id)).toMatchObject({ status: 'delivered', attempts: 1 });
    const got = hook.received.filter((r) => r.path === '/shared');
    expect(got).toHaveLength(jobs.length);
    expect(new Set(got.map((r) => r.headers['webhook-id'])).size).toBe(jobs.length);
    for (const r of got) expect(r.verified).toEqual(JSON.parse(r.body)); // signed as before
    // Each attempt's job is gone once made: the row is the record.
    expect(await queue.getJobCounts('waiting', 'delayed', 'active', 'failed')).toEqual({
      waiting: 0,
      delayed: 0,
      active: 0,
      failed: 0,
    });
  });

  it("retries a failing receiver after the backoff, through the queue's delayed set", async () => {
    hook.behaviour = (_n, r) =>
      r.path === '/flaky' && hook.received.filter((x) => x.path === '/flaky').length === 1 ? 503 : 204;
    const d = node('a', { retryBaseMs: 1_500, retryMaxMs: 1_500 });
    const j = job('/flaky');
    await d.enqueue('job.failed', j);
    await hook.waitFor(1, (r) => r.path === '/flaky');
    const [row] = await store.deliveries.listByJobs([j.id]);
    // The second attempt waits as a delayed job, due at the row's next attempt.
    const second = await eventually(
      async () => {
        const next = await queue.getJob(attemptJobId(row!.id, 2));
        return next && (await next.getState()) === 'delayed' ? next : undefined;
      },
      5_000,
      'the second attempt to wait in the delayed set',
    );
    const pending = await store.deliveries.findById(row!.id);
    expect(pending).toMatchObject({ status: 'pending', attempts: 1 });
    expect(second.timestamp + second.delay).toBeGreaterThanOrEqual(Date.parse(pending!.next_attempt_at!) - 50);
    const delivered = await settled(j.id);
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(delivered.log.map((a) => a.status_code)).toEqual([503, 204]);
    const tries = hook.received.filter((r) => r.path === '/flaky');
    expect(tries).toHaveLength(2);
    // Equal jitter: at least half the base after the first.
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(700);
    expect(tries[1]!.headers['webhook-id']).toBe(tries[0]!.headers['webhook-id']);
  });

  it('queues on start the due rows that have no job (stored while Redis was down, or before the upgrade)', async () => {
    // Stored through a node whose Redis does not answer: the row is kept, its job is not.
    const down = node('down', {}, false, 'redis://127.0.0.1:1');
    const lost = job('/lost');
    await down.enqueue('job.succeeded', lost);
    const [row] = await store.deliveries.listByJobs([lost.id]);
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await queue.getJob(attemptJobId(row!.id, 1))).toBeUndefined();
    // A row written before the upgrade (no queue then), and one a dead node had claimed (its lease over).
    /** A delivery row put in the table by hand, with no BullMQ job behind it. */
    const rowWithoutJob = (id: string, j: JobRow, event: string, path: string, nextAttemptAt?: string) =>
      store.deliveries.insert({
        id,
        job_id: j.id,
        owner: 'tenant',
        event,
        url: `${hook.url}${path}`,
        payload: JSON.stringify({ type: event, data: { id: j.id } }),
        ...(nextAttemptAt !== undefined && { next_attempt_at: nextAttemptAt }),
      });
    const old = job('/old');
    await rowWithoutJob('msg_before_upgrade', old, 'job.succeeded', '/old');
    const claimed = job('/claimed');
    await rowWithoutJob(
      'msg_claimed_by_dead',
      claimed,
      'job.started',
      '/claimed',
      new Date(Date.now() - 60_000).toISOString(),
    );
    node('a');
    for (const j of [lost, old, claimed])
      expect(await settled(j.id)).toMatchObject({ status: 'delivered', attempts: 1 });
    for (const path of ['/lost', '/old', '/claimed'])
      expect(hook.received.filter((r) => r.path === path)).toHaveLength(1);
  });

  it("gives a stopping node's attempt in flight to another node, sent again under the same id", async () => {
    let hang = true;
    hook.behaviour = (_n, r) => (r.path === '/handover' && hang ? 'hang' : 204);
    const a = node('a', { timeoutMs: 20_000 });
    const j = job('/handover');
    await a.enqueue('job.succeeded', j);
    await hook.waitFor(1, (r) => r.path === '/handover');
    hang = false;
    const b = node('b');
    running.splice(running.indexOf(a), 1);
    await a.stop();
    const delivered = await settled(j.id);
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 1 });
    const tries = hook.received.filter((r) => r.path === '/handover');
    expect(tries).toHaveLength(2);
    expect(tries[1]!.headers['webhook-id']).toBe(tries[0]!.headers['webhook-id']);
    expect(b.backend).toBe('redis');
  });

  it('makes again, on another node, the attempt of a node SIGKILLed mid-send, once its claim lapses', async () => {
    let hang = true;
    hook.behaviour = (_n, r) => (r.path === '/killed' && hang ? 'hang' : 204);
    const api = node('api', {}, false);
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/jobs/webhook-node.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        REDIS_URL: REDIS_TEST_URL,
        REDIS_KEY_PREFIX: prefix,
        WEBHOOK_SECRET: secret,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await once(child.stdout, 'data');
      const j = job('/killed');
      await api.enqueue('job.succeeded', j);
      await hook.waitFor(1, (r) => r.path === '/killed');
      const [claimed] = await store.deliveries.listByJobs([j.id]);
      // Claimed for the attempt: twice the time limit plus 30 s.
      expect(Date.parse(claimed!.next_attempt_at!)).toBeGreaterThan(Date.now() + 25_000);
      child.kill('SIGKILL');
      await once(child, 'exit');
      hang = false;
      node('b'); // takes the stalled job, which waits in the delayed set until the claim lapses
      const delivered = await settled(j.id, 60_000);
      expect(delivered).toMatchObject({ status: 'delivered', attempts: 1 });
      const tries = hook.received.filter((r) => r.path === '/killed');
      expect(tries).toHaveLength(2);
      expect(tries[1]!.headers['webhook-id']).toBe(tries[0]!.headers['webhook-id']);
      expect(tries[1]!.at).toBeGreaterThanOrEqual(Date.parse(claimed!.next_attempt_at!));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 90_000);
});
