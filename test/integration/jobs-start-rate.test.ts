// JOB_STARTS_PER_KEY without Redis (the database queue, one node) through the real CLI: a key's job over the rate waits queued and starts in order once the window has room; another key's jobs are not held back.
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';
import { eventually } from '../support/wait.js';

const WINDOW_MS = 6_000;
const ctx = useTestServer({
  MAX_CONCURRENT_TURNS: '2',
  JOB_STARTS_PER_KEY: '2',
  JOB_STARTS_WINDOW_SECONDS: String(WINDOW_MS / 1000),
});

async function createSession(name: string, key: string) {
  const res = await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name }, key });
  expect(res.status).toBe(201);
}

async function createJob(name: string, message: string, key: string) {
  const res = await ctx.t.request(`/api/v1/sessions/${name}/jobs`, { method: 'POST', json: { message }, key });
  expect(res.status).toBe(202);
  return (await res.json()).data;
}

const getJob = async (name: string, id: string, key: string) =>
  (await (await ctx.t.request(`/api/v1/sessions/${name}/jobs/${id}`, { key })).json()).data;

const finished = (name: string, id: string, key: string) =>
  eventually(
    async () => {
      const job = await getJob(name, id, key);
      return ['done', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
    },
    60_000,
    `job ${id} to end`,
  );

describe('JOB_STARTS_PER_KEY on the database queue', () => {
  it("puts off a key's job over the rate until the window has room, in order, without holding back other keys", async () => {
    const [alpha, bravo] = KEYS;
    await createSession('rate-a', alpha);
    await createSession('rate-b', bravo);
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push(await createJob('rate-a', `rate-a-${i}`, alpha));
    const other = await createJob('rate-b', 'rate-b-0', bravo);

    // The first two start (one after the other: one session); the third waits, still queued, not failed.
    const second = await finished('rate-a', mine[1].id, alpha);
    const first = await getJob('rate-a', mine[0].id, alpha);
    if (Date.now() < Date.parse(first.created_at) + WINDOW_MS - 500)
      expect((await getJob('rate-a', mine[2].id, alpha)).status).toBe('queued');

    const third = await finished('rate-a', mine[2].id, alpha);
    for (const job of [first, second, third]) expect(job).toMatchObject({ status: 'done', attempts: 1 });
    // Its start was counted no sooner than a window after the first one's (which came after it was created).
    expect(Date.parse(third.started_at)).toBeGreaterThanOrEqual(Date.parse(first.created_at) + WINDOW_MS);
    expect(Date.parse(second.started_at)).toBeGreaterThanOrEqual(Date.parse(first.finished_at));
    expect(Date.parse(second.started_at)).toBeLessThan(Date.parse(first.created_at) + WINDOW_MS);

    // Another key has a window of its own.
    const theirs = await finished('rate-b', other.id, bravo);
    expect(theirs.status).toBe('done');
    expect(Date.parse(theirs.started_at)).toBeLessThan(Date.parse(third.started_at));
  });
});
