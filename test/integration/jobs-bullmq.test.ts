// Jobs on BullMQ (REDIS_URL set) in one server through the real CLI: run to the end, in order per session, cancel in each state, queue depth in health and metrics.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { needs, REDIS_TEST_URL } from '../support/needs.js';
import { eventually } from '../support/wait.js';

const noRedis = await needs('jobs on BullMQ', 'redis');

describe.skipIf(noRedis)('jobs on BullMQ', () => {
  const prefix = `cca-test-bull-${randomBytes(4).toString('hex')}:`;
  const ctx = useTestServer({
    REDIS_URL: REDIS_TEST_URL,
    REDIS_KEY_PREFIX: prefix,
    MAX_CONCURRENT_TURNS: '2',
    JOB_LOCK_SECONDS: '5',
  });
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_TEST_URL);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const createSession = async (name: string) =>
    expect((await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name } })).status).toBe(201);
  const createJob = async (name: string, message: string) => {
    const res = await ctx.t.request(`/api/v1/sessions/${name}/jobs`, { method: 'POST', json: { message } });
    expect(res.status).toBe(202);
    return (await res.json()).data;
  };
  const getJob = async (name: string, id: string) =>
    (await (await ctx.t.request(`/api/v1/sessions/${name}/jobs/${id}`)).json()).data;
  const finished = (name: string, id: string) =>
    eventually(
      async () => {
        const job = await getJob(name, id);
        return ['done', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
      },
      60_000,
      `job ${id} to end`,
    );
  const cancel = (name: string, id: string) =>
    ctx.t.request(`/api/v1/sessions/${name}/jobs/${id}/cancel`, { method: 'POST' });

  it('runs a job through BullMQ to `done`, and shows the queue in /health and /metrics', async () => {
    await createSession('bull-run');
    ctx.model.script({ match: 'bull-run-job', steps: [{ text: 'ran through the queue' }] });
    const job = await createJob('bull-run', 'bull-run-job');
    expect(job.status).toBe('queued');
    const done = await finished('bull-run', job.id);
    expect(done).toMatchObject({ status: 'done', attempts: 1, result: { content: 'ran through the queue' } });
    // The job went through the BullMQ queue under REDIS_KEY_PREFIX.
    expect(await redis.exists(`${prefix}bull:jobs:meta`)).toBe(1);

    const health = (await (await ctx.t.request('/api/v1/health')).json()).data;
    expect(health.node).toMatchObject({ id: ctx.t.config.node.id, role: 'all' });
    expect(health.jobs).toEqual({
      backend: 'redis',
      runs_jobs: true,
      ok: true,
      waiting: 0,
      active: 0,
      delayed: 0,
      failed: 0,
      // The webhook queue (no webhook target here, so never used).
      webhooks: { waiting: 0, active: 0, delayed: 0, failed: 0 },
    });
    const ready = await ctx.t.request('/api/v1/health/ready');
    expect(ready.status).toBe(200);
    expect((await ready.json()).data.checks).toMatchObject({ job_queue: true });
    const metrics = await (await ctx.t.request('/metrics')).text();
    expect(metrics).toContain(`cca_node_info{node="${ctx.t.config.node.id}",role="all"} 1`);
    expect(metrics).toContain('cca_job_queue_depth{state="waiting"} 0');
    expect(metrics).toContain('cca_job_queue_depth{state="failed"} 0');
    expect(metrics).toContain('cca_webhook_queue_depth{state="delayed"} 0');
  });

  it("runs a session's jobs one at a time, in the order they were queued", async () => {
    await createSession('bull-order');
    const messages = ['bull-order-1', 'bull-order-2', 'bull-order-3'];
    const jobs = [];
    for (const m of messages) jobs.push(await createJob('bull-order', m));
    const ended = [];
    for (const j of jobs) ended.push(await finished('bull-order', j.id));
    expect(ended.map((j) => j.status)).toEqual(['done', 'done', 'done']);
    expect(ended.map((j) => j.result.content)).toEqual(messages.map((m) => `echo: ${m}`));
    for (let i = 1; i < ended.length; i++)
      expect(Date.parse(ended[i].started_at)).toBeGreaterThanOrEqual(Date.parse(ended[i - 1].finished_at));
    const order = ctx.model
      .mainRequests()
      .map((r) => r.prompt)
      .filter((p) => p !== undefined && messages.includes(p));
    expect(order).toEqual(messages);
  });

  it('cancels a queued job (it never runs) and a running one (its turn is interrupted)', async () => {
    await createSession('bull-cancel');
    ctx.model.script({ match: 'bull-cancel-hang', steps: [{ hang: true }] });
    const running = await createJob('bull-cancel', 'bull-cancel-hang');
    const queued = await createJob('bull-cancel', 'bull-cancel-never-runs');
    await ctx.model.waitFor((r) => r.prompt === 'bull-cancel-hang');
    await eventually(async () => (await getJob('bull-cancel', running.id)).status === 'running', 10_000, 'running');

    const q = await cancel('bull-cancel', queued.id);
    expect(q.status).toBe(200);
    expect((await q.json()).data).toMatchObject({ status: 'cancelled', started_at: null });
    const r = await cancel('bull-cancel', running.id);
    expect(r.status).toBe(200);
    expect((await r.json()).data).toMatchObject({ status: 'cancelled', result: { status: 'interrupted' } });
    const again = await cancel('bull-cancel', running.id);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ type: '/problems/job-finished', job_status: 'cancelled' });

    // The session goes on, and the cancelled job never reached the model.
    const next = await createJob('bull-cancel', 'bull-cancel-after');
    expect((await finished('bull-cancel', next.id)).result.content).toBe('echo: bull-cancel-after');
    expect(ctx.model.mainRequests().some((x) => x.prompt === 'bull-cancel-never-runs')).toBe(false);
    // Nothing of them is left in the queue. BullMQ moves a job to completed after its processor returns, which is
    // after the job's row says done, so the figures settle a moment later.
    await eventually(
      async () => {
        const jobs = (await (await ctx.t.request('/api/v1/health')).json()).data.jobs;
        return jobs.waiting === 0 && jobs.active === 0 && jobs.delayed === 0;
      },
      10_000,
      'queue empty',
    );
  });
});
