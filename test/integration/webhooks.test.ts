// Signed job webhooks end to end: real loopback receivers verifying with `standardwebhooks`, retries, time-outs, refused targets, restarts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../src/jobs/secret.js';
import { useModelServer } from '../support/fixture.js';
import type { TestServer } from '../support/server.js';
import { createSession } from '../support/sessions.js';
import { eventually } from '../support/wait.js';
import { WebhookReceiver, type ReceivedWebhook } from '../jobs/webhook-receiver.js';

const fixture = useModelServer();
const receivers: WebhookReceiver[] = [];

afterAll(async () => {
  for (const r of receivers) await r.close();
});

async function receiver(secret?: string): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start(secret);
  receivers.push(r);
  return r;
}

const server = (env: Record<string, string>) => fixture.server(env);

async function runJob(t: TestServer, session: string, body: Record<string, unknown>) {
  await createSession(t, session);
  const res = await t.request(`/api/v1/sessions/${session}/jobs`, { method: 'POST', json: body });
  expect(res.status).toBe(202);
  return (await res.json()).data;
}

const jobOf = async (t: TestServer, session: string, id: string) =>
  (await (await t.request(`/api/v1/sessions/${session}/jobs/${id}`)).json()).data;

/** Polls the job until every one of its webhook messages is no longer pending. */
const settledWebhooks = (t: TestServer, session: string, id: string, count: number, timeoutMs = 30_000) =>
  eventually(
    async () => {
      const job = await jobOf(t, session, id);
      return job.webhooks.length === count && job.webhooks.every((w: any) => w.status !== 'pending') ? job : undefined;
    },
    timeoutMs,
    `${count} webhook messages of job ${id} to settle`,
  );

const ofJob = (id: string) => (r: ReceivedWebhook) => JSON.parse(r.body).data.id === id;

describe('signed deliveries', () => {
  const secret = generateWebhookSecret();
  let t: TestServer;
  let global: WebhookReceiver;

  beforeAll(async () => {
    global = await receiver(secret);
    t = await server({
      WEBHOOK_SECRET: secret,
      WEBHOOK_URL: `${global.url}/all-jobs`,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_RETRY_BASE_SECONDS: '0.05',
      WEBHOOK_TIMEOUT_SECONDS: '0.5',
    });
  });

  it("sends job.started and job.succeeded to the job's webhook_url and WEBHOOK_URL, signed per Standard Webhooks", async () => {
    const own = await receiver(secret);
    const job = await runJob(t, 'signed', {
      message: 'signed job',
      webhook_url: `${own.url}/hook?x=1`,
      metadata: { ref: 42 },
    });
    const mine = await own.waitFor(2);
    const theirs = await global.waitFor(2, ofJob(job.id));
    for (const r of [...mine, ...theirs]) {
      expect(r.verifyError).toBeUndefined();
      expect(r.verified).toEqual(JSON.parse(r.body));
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
      expect(Number(r.headers['webhook-timestamp'])).toBeGreaterThan(Date.now() / 1000 - 60);
      expect(r.headers['webhook-signature']).toMatch(/^v1,/);
    }
    expect(mine.map((r) => r.path)).toEqual(['/hook?x=1', '/hook?x=1']);
    expect(theirs.map((r) => r.path)).toEqual(['/all-jobs', '/all-jobs']);
    expect(mine.map((r) => r.verified.type).sort()).toEqual(['job.started', 'job.succeeded']);
    const succeeded = mine.find((r) => r.verified.type === 'job.succeeded')!.verified;
    expect(succeeded.data).toMatchObject({
      id: job.id,
      session: 'signed',
      status: 'done',
      metadata: { ref: 42 },
      result: { content: 'echo: signed job', status: 'ok' },
    });
    expect(Date.parse(succeeded.timestamp)).toBeGreaterThan(0);
    expect(succeeded.data.webhooks).toBeUndefined();

    // A forged or altered message does not verify.
    const sample = mine[0]!;
    expect(() =>
      new Webhook(generateWebhookSecret()).verify(sample.body, sample.headers as Record<string, string>),
    ).toThrow();
    expect(() =>
      new Webhook(secret).verify(
        sample.body.replace('signed job', 'signed jab'),
        sample.headers as Record<string, string>,
      ),
    ).toThrow();

    const done = await settledWebhooks(t, 'signed', job.id, 4);
    const targets = done.webhooks.map((w: any) => [w.event, w.target, w.url, w.status, w.attempts]).sort();
    expect(targets).toEqual(
      [
        ['job.started', 'job', `${own.url}/hook?x=1`, 'delivered', 1],
        ['job.started', 'server', null, 'delivered', 1],
        ['job.succeeded', 'job', `${own.url}/hook?x=1`, 'delivered', 1],
        ['job.succeeded', 'server', null, 'delivered', 1],
      ].sort(),
    );
    const entry = done.webhooks[0].log[0];
    expect(entry).toEqual({
      attempt: 1,
      at: expect.any(String),
      status_code: 204,
      error: null,
      duration_ms: expect.any(Number),
    });
    expect(done.webhooks.map((w: any) => w.id).sort()).toEqual(
      [...mine, ...theirs].map((r) => r.headers['webhook-id']).sort(),
    );
    expect(await (await t.request('/metrics')).text()).toMatch(/cca_webhook_attempts_total\{outcome="ok"\} [1-9]/);
  });

  it('sends job.failed for a failed job and job.cancelled for a cancelled one', async () => {
    const own = await receiver(secret);
    fixture.model.script({
      match: 'webhook-failing-job',
      steps: [{ error: { status: 400, message: 'refused by the model' } }],
    });
    const failed = await runJob(t, 'hook-fail', { message: 'webhook-failing-job', webhook_url: own.url });
    const [f] = await own.waitFor(1, (r) => r.verified?.type === 'job.failed');
    expect(f!.verified.data).toMatchObject({ id: failed.id, status: 'failed', error: { type: '/problems/api-error' } });

    fixture.model.script({ match: 'webhook-cancelled-job', steps: [{ hang: true }] });
    const cancelled = await runJob(t, 'hook-cancel', { message: 'webhook-cancelled-job', webhook_url: own.url });
    await own.waitFor(1, (r) => r.verified?.type === 'job.started' && r.verified.data.id === cancelled.id);
    expect(
      (await t.request(`/api/v1/sessions/hook-cancel/jobs/${cancelled.id}/cancel`, { method: 'POST' })).status,
    ).toBe(200);
    const [c] = await own.waitFor(1, (r) => r.verified?.type === 'job.cancelled');
    expect(c!.verified.data).toMatchObject({
      id: cancelled.id,
      status: 'cancelled',
      error: { type: '/problems/job-cancelled' },
    });
  });

  it('retries a receiver that fails twice, then succeeds: three attempts logged, one message id', async () => {
    const flaky = await receiver(secret);
    flaky.behaviour = (n, r) =>
      r.verified?.type === 'job.succeeded' &&
      flaky.received.filter((x) => x.verified?.type === 'job.succeeded').length <= 2
        ? 500
        : 204;
    const job = await runJob(t, 'flaky', { message: 'flaky receiver job', webhook_url: flaky.url });
    const done = await settledWebhooks(t, 'flaky', job.id, 4);
    const mine = done.webhooks.find((w: any) => w.target === 'job' && w.event === 'job.succeeded');
    expect(mine.status).toBe('delivered');
    expect(mine.attempts).toBe(3);
    expect(mine.log.map((a: any) => [a.attempt, a.status_code, a.error])).toEqual([
      [1, 500, 'receiver answered 500'],
      [2, 500, 'receiver answered 500'],
      [3, 204, null],
    ]);
    const tries = flaky.received.filter((r) => r.verified?.type === 'job.succeeded');
    expect(tries).toHaveLength(3);
    expect(new Set(tries.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(tries.every((r) => r.verified !== undefined)).toBe(true);
    expect(tries[2]!.at - tries[0]!.at).toBeLessThan(5_000);
  });

  it('times out a receiver that never answers, retries, and gives up after WEBHOOK_MAX_ATTEMPTS', async () => {
    const silent = await receiver(secret);
    silent.behaviour = () => 'hang';
    const job = await runJob(t, 'silent', { message: 'silent receiver job', webhook_url: silent.url });
    const done = await settledWebhooks(t, 'silent', job.id, 4);
    for (const w of done.webhooks.filter((w: any) => w.target === 'job')) {
      expect(w.status).toBe('failed');
      expect(w.attempts).toBe(3);
      expect(w.next_attempt_at).toBeNull();
      expect(w.log.map((a: any) => [a.status_code, a.error])).toEqual(Array(3).fill([null, 'timed out after 0.5 s']));
      for (const a of w.log) expect(a.duration_ms).toBeGreaterThanOrEqual(450);
    }
    expect(silent.received).toHaveLength(6);
    expect(done.status).toBe('done'); // a receiver's trouble never changes the job
  });
});

describe('refused targets', () => {
  let t: TestServer;
  let local: WebhookReceiver;

  beforeAll(async () => {
    local = await receiver();
    t = await server({ WEBHOOK_URL: `${local.url}/operator`, WEBHOOK_RETRY_BASE_SECONDS: '0.05' });
    await createSession(t, 'refuse');
  });

  it('refuses, at creation, webhook URLs on internal addresses or with another scheme (422), creating nothing', async () => {
    const urls = [
      local.url,
      `http://localhost:${new URL(local.url).port}/x`,
      'http://[::1]/x',
      'http://[::ffff:127.0.0.1]/x',
      'http://[::ffff:7f00:1]/x',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.1.2.3/x',
      'http://172.16.5.4/x',
      'http://192.168.1.1/x',
      'http://100.64.0.1/x',
      'http://[fe80::1]/x',
      'http://[fd00::1]/x',
      'http://0.0.0.0/x',
      'http://224.0.0.1/x',
      'http://2130706433/x',
      'ftp://example.com/x',
      'file:///etc/passwd',
      'javascript:alert(1)',
    ];
    for (const url of urls) {
      const res = await t.request('/api/v1/sessions/refuse/jobs', {
        method: 'POST',
        json: { message: 'never', webhook_url: url },
      });
      expect(res.status, url).toBe(422);
      const problem = await res.json();
      expect(problem.type, url).toBe('/problems/webhook-url-refused');
      expect(problem.errors[0].pointer).toBe('/webhook_url');
    }
    expect((await (await t.request('/api/v1/sessions/refuse/jobs')).json()).data).toEqual([]);
  });

  it('checks again at delivery time: WEBHOOK_URL on loopback is refused and logged, never called', async () => {
    const res = await t.request('/api/v1/sessions/refuse/jobs', {
      method: 'POST',
      json: { message: 'refused at delivery' },
    });
    const job = (await res.json()).data;
    const done = await settledWebhooks(t, 'refuse', job.id, 2);
    for (const w of done.webhooks) {
      expect(w.target).toBe('server');
      expect(w.status).toBe('failed');
      expect(w.attempts).toBe(1);
      expect(w.log[0].status_code).toBeNull();
      expect(w.log[0].error).toMatch(/^refused: the URL resolves to a loopback address/);
    }
    expect(local.received).toHaveLength(0);
  });
});

describe('secret and restarts', () => {
  it('generates a secret once, keeps it in DATA_DIR across restarts, and delivers pending webhooks after a restart', async () => {
    const hook = await receiver();
    let down = true;
    hook.behaviour = () => (down ? 503 : 204);
    const t = await server({
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_SECONDS: '3',
      WEBHOOK_RETRY_MAX_SECONDS: '3',
    });
    const secret = readFileSync(join(t.dirs.data, 'webhook-secret'), 'utf8').trim();
    expect(secret).toMatch(/^whsec_/);
    expect(t.server.jobs.secret).toBe(secret);
    hook.secret = secret;

    const job = await runJob(t, 'durable', { message: 'durable delivery', webhook_url: hook.url });
    await hook.waitFor(1, (r) => JSON.parse(r.body).type === 'job.succeeded');
    const before = await eventually(
      async () => {
        const j = await jobOf(t, 'durable', job.id);
        return j.webhooks.length === 2 && j.webhooks.every((w: any) => w.attempts >= 1) ? j : undefined;
      },
      10_000,
      'first attempts logged',
    );
    await t.stop();
    const triedBefore = hook.received.length;
    down = false;
    await t.restart();
    expect(t.server.jobs.secret).toBe(secret);
    expect(readFileSync(join(t.dirs.data, 'webhook-secret'), 'utf8').trim()).toBe(secret);

    const done = await settledWebhooks(t, 'durable', job.id, 2);
    for (const w of done.webhooks) {
      const earlier = before.webhooks.find((b: any) => b.id === w.id);
      expect(w.status).toBe('delivered');
      expect(w.log.map((a: any) => a.status_code)).toEqual([...Array(w.log.length - 1).fill(503), 204]);
      expect(w.log.length).toBeGreaterThan(earlier.log.length);
    }
    expect(hook.received.length).toBeGreaterThan(triedBefore);
    const ok = hook.received.filter((r) => r.verified !== undefined);
    expect(ok).toHaveLength(hook.received.length);
    expect(new Set(ok.map((r) => r.headers['webhook-id'])).size).toBe(2);
  });
});
