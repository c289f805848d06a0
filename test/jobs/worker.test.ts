// Unit tests of the job worker through what createJobs gives the server (the in-process queue, no Redis): a queued job runs as a chat turn and ends with its result or problem; JOB_CONCURRENCY holds the rest queued; cancel in each state; intake stops.
import { describe, expect, it } from 'vitest';
import type { JobView } from '../../src/jobs/service.js';
import { tenantOf } from '../../src/security/api-keys.js';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';
import { eventually } from '../support/wait.js';

// At most two Claude Code processes live at once: the least recently used idle one closes for a new one.
const f = useTestServer({ JOB_CONCURRENCY: '1', MAX_LIVE_SESSIONS: '2', MAX_CONCURRENT_TURNS: '2' });
const TENANT = tenantOf(KEYS[0]);
const jobs = () => f.t.server.jobs;
const sessions = () => f.t.server.sessions;

/** The job once its status is one of `statuses` (the worker moves it on its own; the job API has no blocking wait). */
const reaches = (name: string, id: string, ...statuses: JobView['status'][]) =>
  eventually(
    async () => {
      const job = await jobs().service.get(TENANT, name, id);
      return statuses.includes(job.status) ? job : undefined;
    },
    60_000,
    `job ${id} to be ${statuses.join(' or ')}`,
  );

const asked = (prompt: string) => f.model.waitFor((r) => r.kind === 'main' && r.prompt === prompt);

describe('job worker', () => {
  it('runs a queued job as a chat turn of its session: done, with the result, in history', async () => {
    await sessions().create(TENANT, { name: 'w1' });
    const queued = await jobs().service.create(TENANT, 'w1', { message: 'job hello', metadata: { ticket: 7 } });
    expect(queued).toMatchObject({ status: 'queued', session: 'w1', result: null, metadata: { ticket: 7 } });
    const done = await reaches('w1', queued.id, 'done', 'failed');
    expect(done).toMatchObject({ status: 'done', error: null, result: { status: 'ok', content: 'echo: job hello' } });
    expect(done.turn_id).toBe(done.result?.turn_id);
    expect(done.started_at).not.toBeNull();
    const history = await sessions().history(TENANT, 'w1', 0, 10);
    expect(history.items.map((m) => [m.role, m.content, m.turn_id])).toEqual([
      ['user', 'job hello', done.turn_id],
      ['assistant', 'echo: job hello', done.turn_id],
    ]);
  });

  it('a job whose turn fails ends failed with the problem', async () => {
    f.model.script({ match: 'job-model-error', steps: [{ error: { status: 400, message: 'scripted job failure' } }] });
    const job = await jobs().service.create(TENANT, 'w1', { message: 'job-model-error' });
    const failed = await reaches('w1', job.id, 'done', 'failed');
    expect(failed).toMatchObject({
      status: 'failed',
      result: null,
      error: { type: '/problems/api-error', status: 502 },
    });
    expect(failed.error?.detail).toContain('scripted job failure');
  });

  it('runs at most JOB_CONCURRENCY jobs: the next waits queued until the running one ends', async () => {
    await sessions().create(TENANT, { name: 'w2' });
    f.model.script({ match: 'job-holds-the-worker', steps: [{ hang: true }] });
    const holder = await jobs().service.create(TENANT, 'w1', { message: 'job-holds-the-worker' });
    await asked('job-holds-the-worker');
    expect((await jobs().service.get(TENANT, 'w1', holder.id)).status).toBe('running');
    // Another session, so only JOB_CONCURRENCY=1 keeps it from running.
    const next = await jobs().service.create(TENANT, 'w2', { message: 'job waits its turn' });
    // A whole chat turn on a third session (not a job, so not held back) gives the worker time to start it, if it would.
    await sessions().create(TENANT, { name: 'w3' });
    await (
      await sessions().chat(TENANT, 'w3', { message: 'a chat meanwhile' })
    ).recorded;
    expect((await jobs().service.get(TENANT, 'w2', next.id)).status).toBe('queued');
    expect(f.model.mainRequests().some((r) => r.prompt === 'job waits its turn')).toBe(false);
    // Cancelling a running job interrupts its turn and waits for it to end; then the next one runs.
    const cancelled = await jobs().service.cancel(TENANT, 'w1', holder.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.error).toMatchObject({ type: '/problems/job-cancelled', status: 409 });
    const done = await reaches('w2', next.id, 'done', 'failed');
    expect(done.result?.content).toBe('echo: job waits its turn');
    // The session of the cancelled job stays usable.
    const after = await jobs().service.create(TENANT, 'w1', { message: 'after the cancel' });
    expect((await reaches('w1', after.id, 'done', 'failed')).status).toBe('done');
  });

  it('a cancelled queued job ends cancelled and never runs', async () => {
    f.model.script({ match: 'job-blocks-the-queue', steps: [{ hang: true }] });
    const blocker = await jobs().service.create(TENANT, 'w1', { message: 'job-blocks-the-queue' });
    await asked('job-blocks-the-queue');
    const waiting = await jobs().service.create(TENANT, 'w2', { message: 'never to be run' });
    const cancelled = await jobs().service.cancel(TENANT, 'w2', waiting.id);
    expect(cancelled).toMatchObject({ status: 'cancelled', turn_id: null, result: null });
    await jobs().service.cancel(TENANT, 'w1', blocker.id);
    const next = await jobs().service.create(TENANT, 'w2', { message: 'runs after the cancelled one' });
    await reaches('w2', next.id, 'done');
    expect(f.model.mainRequests().some((r) => r.prompt === 'never to be run')).toBe(false);
    expect((await jobs().service.get(TENANT, 'w2', waiting.id)).status).toBe('cancelled');
  });

  it('refuses to cancel a job that has ended (409) or is unknown (404), and a job of another session (404)', async () => {
    const job = await jobs().service.create(TENANT, 'w1', { message: 'quick job' });
    await reaches('w1', job.id, 'done');
    await expect(jobs().service.cancel(TENANT, 'w1', job.id)).rejects.toMatchObject({ status: 409 });
    await expect(jobs().service.cancel(TENANT, 'w1', 'no-such-job')).rejects.toMatchObject({ status: 404 });
    await expect(jobs().service.get(TENANT, 'w2', job.id)).rejects.toMatchObject({ status: 404 });
    await expect(jobs().service.get(tenantOf(KEYS[1]), 'w1', job.id)).rejects.toMatchObject({ status: 404 });
  });

  it('refuses a job for an unknown session or with bad options, and queues nothing', async () => {
    await expect(jobs().service.create(TENANT, 'nowhere', { message: 'x' })).rejects.toMatchObject({ status: 404 });
    await expect(jobs().service.create(TENANT, 'w1', { message: 'x', max_turns: 10_000 })).rejects.toMatchObject({
      status: 422,
      slug: 'validation-failed',
    });
    const big = { blob: 'x'.repeat(17 * 1024) };
    await expect(jobs().service.create(TENANT, 'w1', { message: 'x', metadata: big })).rejects.toMatchObject({
      status: 422,
    });
    const queued = await jobs().service.list(TENANT, 'w1', 'queued', 0, 10);
    expect(queued.total).toBe(0);
  });

  it('after stopIntake a new job stays queued, and stop returns with nothing in flight', async () => {
    jobs().stopIntake();
    const job = await jobs().service.create(TENANT, 'w1', { message: 'after intake stopped' });
    await jobs().stop();
    expect((await jobs().service.get(TENANT, 'w1', job.id)).status).toBe('queued');
    expect(f.model.mainRequests().some((r) => r.prompt === 'after intake stopped')).toBe(false);
  });
});
