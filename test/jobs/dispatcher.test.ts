// The webhook dispatcher over a real store and loopback receivers: pinned DNS answers, rebinding refused, stop and restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDispatcher, type DispatcherSettings } from '../../src/jobs/dispatcher.js';
import { generateWebhookSecret } from '../../src/jobs/secret.js';
import type { Resolver } from '../../src/jobs/ssrf.js';
import { createStore, type Store } from '../../src/store/index.js';
import { dispatcherSettings, finishedJob } from '../support/job-rows.js';
import { eventually } from '../support/wait.js';
import { WebhookReceiver } from './webhook-receiver.js';

const secret = generateWebhookSecret();
const log = pino({ level: 'silent' });
let dir: string;
let store: Store;
let hook: WebhookReceiver;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cca-dispatch-'));
  store = await createStore(`sqlite:${join(dir, 'db.sqlite')}`);
  await store.migrate();
  hook = await WebhookReceiver.start(secret);
});

afterAll(async () => {
  await hook?.close();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

const settings = (extra: Partial<DispatcherSettings> = {}) => dispatcherSettings(secret, extra);

const job = finishedJob;

const settled = (jobId: string) =>
  eventually(
    async () => {
      const [d] = await store.deliveries.listByJobs([jobId]);
      return d && d.status !== 'pending' ? d : undefined;
    },
    20_000,
    `the delivery of ${jobId} to settle`,
  );

const port = () => new URL(hook.url).port;

describe('WebhookDispatcher', () => {
  it('connects to the address the name was checked against (no second lookup)', async () => {
    const resolver: Resolver = async (host) =>
      host === 'hooks.example.test' ? [{ address: '127.0.0.1', family: 4 }] : [];
    const d = new WebhookDispatcher(store, settings({ allowPrivate: true }), log, resolver);
    d.start();
    try {
      const j = job(`http://hooks.example.test:${port()}/pinned`);
      await d.enqueue('job.succeeded', j);
      const delivery = await settled(j.id);
      expect(delivery.status).toBe('delivered');
      const got = hook.received.find((r) => r.path === '/pinned')!;
      expect(got.headers.host).toBe(`hooks.example.test:${port()}`);
      expect(got.verified).toMatchObject({ type: 'job.succeeded', data: { id: j.id } });
    } finally {
      await d.stop();
    }
  });

  it('refuses at delivery time a name that now resolves to an internal address (DNS rebinding), without retrying', async () => {
    const resolver: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const d = new WebhookDispatcher(store, settings(), log, resolver);
    d.start();
    try {
      const j = job(`http://rebound.example.test:${port()}/rebound`);
      await d.enqueue('job.failed', j);
      const delivery = await settled(j.id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 1 });
      expect(delivery.log[0]!.error).toBe(
        'refused: the URL resolves to a loopback address: rebound.example.test (127.0.0.1); internal targets are refused unless WEBHOOK_ALLOW_PRIVATE=true',
      );
      expect(hook.received.some((r) => r.path === '/rebound')).toBe(false);
    } finally {
      await d.stop();
    }
  });

  it('logs connection errors and gives up after the last attempt', async () => {
    const resolver: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const d = new WebhookDispatcher(store, settings({ allowPrivate: true }), log, resolver);
    d.start();
    try {
      const j = job('http://closed.example.test:1/');
      await d.enqueue('job.started', j);
      const delivery = await settled(j.id);
      expect(delivery.status).toBe('failed');
      expect(delivery.log.map((a) => [a.attempt, a.status_code])).toEqual([
        [1, null],
        [2, null],
        [3, null],
      ]);
      expect(delivery.log[0]!.error).toMatch(/^ECONNREFUSED/);
      for (let i = 1; i < 3; i++)
        expect(Date.parse(delivery.log[i]!.at)).toBeGreaterThanOrEqual(Date.parse(delivery.log[i - 1]!.at) + 10);
    } finally {
      await d.stop();
    }
  });

  it('abandons an attempt in flight on stop (not logged) and delivers it after a restart', async () => {
    let hang = true;
    hook.behaviour = (_n, r) => (r.path === '/restart' && hang ? 'hang' : 204);
    const first = new WebhookDispatcher(store, settings({ allowPrivate: true }), log);
    first.start();
    const j = job(`${hook.url}/restart`);
    await first.enqueue('job.succeeded', j);
    await hook.waitFor(1, (r) => r.path === '/restart');
    await first.stop();
    const [pending] = await store.deliveries.listByJobs([j.id]);
    expect(pending).toMatchObject({ status: 'pending', attempts: 0, log: [] });

    hang = false;
    const second = new WebhookDispatcher(store, settings({ allowPrivate: true }), log);
    second.start();
    try {
      const delivery = await settled(j.id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 1 });
      const tries = hook.received.filter((r) => r.path === '/restart');
      expect(tries).toHaveLength(2);
      expect(tries[0]!.headers['webhook-id']).toBe(tries[1]!.headers['webhook-id']);
      expect(tries[1]!.verified).toEqual(JSON.parse(tries[1]!.body));
    } finally {
      await second.stop();
      hook.behaviour = () => 204;
    }
  });

  it('sends each attempt once when several dispatchers share the database (a claim per attempt)', async () => {
    const jobs = Array.from({ length: 12 }, () => job(`${hook.url}/shared`));
    // Stored before either dispatcher runs, so both find all of them due at once.
    const idle = new WebhookDispatcher(store, settings({ allowPrivate: true }), log);
    for (const j of jobs) await idle.enqueue('job.succeeded', j);
    const both = [0, 1].map(() => new WebhookDispatcher(store, settings({ allowPrivate: true }), log));
    for (const d of both) d.start();
    try {
      for (const j of jobs) expect(await settled(j.id)).toMatchObject({ status: 'delivered', attempts: 1 });
      const ids = hook.received.filter((r) => r.path === '/shared').map((r) => r.headers['webhook-id']);
      expect(ids).toHaveLength(jobs.length);
      expect(new Set(ids).size).toBe(jobs.length);
    } finally {
      for (const d of both) await d.stop();
    }
  });

  it('claims a due delivery for one taker only', async () => {
    const j = job(`${hook.url}/claimed`);
    const msg = `msg_claim${j.id.slice(-4)}`;
    const due = new Date().toISOString();
    await store.deliveries.insert({
      id: msg,
      job_id: j.id,
      owner: 'tenant',
      event: 'job.started',
      url: j.webhook_url!,
      payload: '{}',
      next_attempt_at: due,
    });
    const lease = new Date(Date.now() + 60_000).toISOString();
    expect(await store.deliveries.claim(msg, due, lease)).toBe(true);
    expect(await store.deliveries.claim(msg, due, lease)).toBe(false);
    expect(await store.deliveries.due(10)).not.toContainEqual(expect.objectContaining({ id: msg }));
    await store.deliveries.unclaim(msg);
    expect(await store.deliveries.due(10)).toContainEqual(expect.objectContaining({ id: msg }));
    await store.deliveries.recordAttempt(msg, {
      status: 'failed',
      attempts: 1,
      nextAttemptAt: null,
      entry: { attempt: 1, at: due, status_code: null, error: 'test', duration_ms: 0 },
    });
  });

  it('sends nothing for a job with no webhook_url when WEBHOOK_URL is unset', async () => {
    const d = new WebhookDispatcher(store, settings(), log);
    const j = { ...job(''), webhook_url: null };
    await d.enqueue('job.succeeded', j);
    expect(await store.deliveries.listByJobs([j.id])).toEqual([]);
  });
});
