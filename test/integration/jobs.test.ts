// Jobs through the real CLI: 202 + Location, result like a sync chat, history, SSE replay, cancel in each state, ordering, validation, tenancy.
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { promptTexts } from '../support/model-server.js';
import { startTestServer, KEYS } from '../support/server.js';
import { readSse } from '../support/sse.js';
import { eventually } from '../support/wait.js';

const ctx = useTestServer({ WEBHOOK_ALLOW_PRIVATE: 'true', MAX_CONCURRENT_TURNS: '4' });

async function createSession(name: string) {
  const res = await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name } });
  expect(res.status).toBe(201);
}

async function createJob(name: string, body: Record<string, unknown>, key?: string) {
  const res = await ctx.t.request(`/api/v1/sessions/${name}/jobs`, {
    method: 'POST',
    json: body,
    ...(key !== undefined && { key }),
  });
  return { res, json: await res.json() };
}

const getJob = async (name: string, id: string) =>
  (await (await ctx.t.request(`/api/v1/sessions/${name}/jobs/${id}`)).json()).data;

/** Polls the job until it has ended (the job API has no blocking wait; its SSE stream is tested separately). */
const finished = (name: string, id: string, timeoutMs = 60_000) =>
  eventually(
    async () => {
      const job = await getJob(name, id);
      return ['done', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
    },
    timeoutMs,
    `job ${id} to end`,
  );

const cancel = (name: string, id: string) =>
  ctx.t.request(`/api/v1/sessions/${name}/jobs/${id}/cancel`, { method: 'POST' });

describe('creating and running a job', () => {
  it('answers 202 with the job and Location, runs it, and stores a result shaped like a sync chat', async () => {
    await createSession('runner');
    ctx.model.script({
      match: 'job-write-file',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/job.txt', content: 'from a job' } } },
        { text: 'Job wrote the file.' },
      ],
    });
    const { res, json } = await createJob('runner', { message: 'job-write-file', metadata: { ticket: 'ABC-1', n: 2 } });
    expect(res.status).toBe(202);
    const job = json.data;
    expect(res.headers.get('location')).toBe(`/api/v1/sessions/runner/jobs/${job.id}`);
    expect(job).toMatchObject({
      session: 'runner',
      status: 'queued',
      message: 'job-write-file',
      metadata: { ticket: 'ABC-1', n: 2 },
      result: null,
      error: null,
      webhooks: [],
    });
    expect(json.meta.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const done = await finished('runner', job.id);
    expect(done.status).toBe('done');
    expect(done.result).toMatchObject({
      status: 'ok',
      content: 'Job wrote the file.',
      num_turns: 2,
      stop_reason: 'end_turn',
    });
    expect(done.result.cost_usd).toBeGreaterThan(0);
    expect(done.result.usage.input_tokens).toBeGreaterThan(0);
    expect(done.result.tools_used).toEqual([
      {
        name: 'Write',
        input: expect.objectContaining({ content: 'from a job' }),
        output: expect.any(String),
        is_error: false,
      },
    ]);
    expect(done.turn_id).toBe(done.result.turn_id);
    expect(done.attempts).toBe(1);
    expect(Date.parse(done.finished_at)).toBeGreaterThanOrEqual(Date.parse(done.started_at));
    expect(Date.parse(done.started_at)).toBeGreaterThanOrEqual(Date.parse(done.created_at));

    // The turn is in the session's history like any turn.
    const history = (await (await ctx.t.request('/api/v1/sessions/runner/history')).json()).data;
    expect(history.map((m: any) => [m.role, m.turn_id])).toEqual([
      ['user', done.turn_id],
      ['assistant', done.turn_id],
    ]);
    expect(history[1].content).toBe('Job wrote the file.');

    const metrics = await (await ctx.t.request('/metrics')).text();
    expect(metrics).toMatch(/cca_job_transitions_total\{state="queued"\} [1-9]/);
    expect(metrics).toMatch(/cca_job_transitions_total\{state="running"\} [1-9]/);
    expect(metrics).toMatch(/cca_job_transitions_total\{state="succeeded"\} [1-9]/);
  });

  it('lists jobs newest first with pagination and a status filter (succeeded = done)', async () => {
    await createSession('lister');
    const a = (await createJob('lister', { message: 'list one' })).json.data;
    await finished('lister', a.id);
    const b = (await createJob('lister', { message: 'list two' })).json.data;
    await finished('lister', b.id);
    const all = await (await ctx.t.request('/api/v1/sessions/lister/jobs?limit=1')).json();
    expect(all.data.map((j: any) => j.id)).toEqual([b.id]);
    expect(all.meta.pagination).toEqual({ page: 1, limit: 1, total: 2, pages: 2 });
    const done = await (await ctx.t.request('/api/v1/sessions/lister/jobs?status=done')).json();
    expect(done.data.map((j: any) => j.id)).toEqual([b.id, a.id]);
    const succeeded = await (await ctx.t.request('/api/v1/sessions/lister/jobs?status=succeeded')).json();
    expect(succeeded.data.map((j: any) => j.id)).toEqual([b.id, a.id]);
    const queued = await (await ctx.t.request('/api/v1/sessions/lister/jobs?status=queued')).json();
    expect(queued.data).toEqual([]);
    expect((await ctx.t.request('/api/v1/sessions/lister/jobs?status=sleeping')).status).toBe(422);
  });

  it('ends failed with the problem document when the turn fails', async () => {
    await createSession('failing');
    ctx.model.script({ match: 'job-api-error', steps: [{ error: { status: 400, message: 'scripted refusal' } }] });
    const job = (await createJob('failing', { message: 'job-api-error' })).json.data;
    const done = await finished('failing', job.id);
    expect(done.status).toBe('failed');
    expect(done.result).toBeNull();
    expect(done.error).toMatchObject({ type: '/problems/api-error', status: 502 });
  });
});

describe('job events (SSE)', () => {
  it('streams a running job live, and replays a finished one from the start or after Last-Event-ID', async () => {
    await createSession('streamer');
    ctx.model.script({ match: 'job-slow-stream', steps: [{ text: ['one ', 'two ', 'three'], chunkDelayMs: 150 }] });
    const job = (await createJob('streamer', { message: 'job-slow-stream' })).json.data;
    const live = await ctx.t.request(`/api/v1/sessions/streamer/jobs/${job.id}/events`);
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toContain('text/event-stream');
    expect(live.headers.get('x-job-id')).toBe(job.id);
    const events = await readSse(live).all();
    expect(events.map((e) => e.event)).toEqual(['session', 'text', 'text', 'text', 'result']);
    expect(events.at(-1)!.data.content).toBe('one two three');
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));

    await finished('streamer', job.id);
    const replay = await readSse(await ctx.t.request(`/api/v1/sessions/streamer/jobs/${job.id}/events`)).all();
    expect(replay.map((e) => [e.id, e.event])).toEqual(events.map((e) => [e.id, e.event]));
    const rest = await readSse(
      await ctx.t.request(`/api/v1/sessions/streamer/jobs/${job.id}/events`, {
        headers: { 'last-event-id': String(ids[2]) },
      }),
    ).all();
    expect(rest.map((e) => e.id)).toEqual(ids.slice(3));
    const viaQuery = await readSse(
      await ctx.t.request(`/api/v1/sessions/streamer/jobs/${job.id}/events?last_event_id=${ids[3]}`),
    ).all();
    expect(viaQuery.map((e) => e.id)).toEqual(ids.slice(4));
  });

  it('waits while the job is queued, then streams it', async () => {
    await createSession('waiter');
    ctx.model.script({
      match: 'waiter-blocker',
      steps: [{ text: ['blocking ', 'for ', 'a while'], chunkDelayMs: 250 }],
    });
    const blocker = (await createJob('waiter', { message: 'waiter-blocker' })).json.data;
    const queued = (await createJob('waiter', { message: 'waiter-second' })).json.data;
    const stream = readSse(await ctx.t.request(`/api/v1/sessions/waiter/jobs/${queued.id}/events`));
    const events = await stream.all();
    expect(events[0]!.event).toBe('session');
    expect(events.at(-1)!.event).toBe('result');
    expect(events.at(-1)!.data.content).toBe('echo: waiter-second');
    expect((await getJob('waiter', blocker.id)).status).toBe('done');
  });
});

describe('cancel', () => {
  it('of a queued job removes it from the queue: it ends cancelled and never runs', async () => {
    await createSession('cq');
    ctx.model.script({ match: 'cq-blocker', steps: [{ hang: true }] });
    const blocker = (await createJob('cq', { message: 'cq-blocker' })).json.data;
    await ctx.model.waitFor((r) => r.prompt === 'cq-blocker');
    const queued = (await createJob('cq', { message: 'cq-never-runs' })).json.data;
    const res = await cancel('cq', queued.id);
    expect(res.status).toBe(200);
    const body = (await res.json()).data;
    expect(body.status).toBe('cancelled');
    expect(body.error).toMatchObject({ type: '/problems/job-cancelled', status: 409 });
    expect(body.started_at).toBeNull();
    const events = await readSse(await ctx.t.request(`/api/v1/sessions/cq/jobs/${queued.id}/events`)).all();
    expect(events).toEqual([
      {
        id: 0,
        event: 'error',
        data: { type: 'error', problem: expect.objectContaining({ type: '/problems/job-cancelled' }) },
      },
    ]);

    expect((await cancel('cq', blocker.id)).status).toBe(200);
    expect((await getJob('cq', blocker.id)).status).toBe('cancelled');
    expect(ctx.model.mainRequests().some((r) => r.prompt === 'cq-never-runs')).toBe(false);
  });

  it('of a running job interrupts its turn and ends cancelled; the session stays usable', async () => {
    await createSession('cr');
    ctx.model.script({ match: 'cr-hang', steps: [{ hang: true }] });
    const job = (await createJob('cr', { message: 'cr-hang' })).json.data;
    await ctx.model.waitFor((r) => r.prompt === 'cr-hang');
    expect((await getJob('cr', job.id)).status).toBe('running');
    const res = await cancel('cr', job.id);
    expect(res.status).toBe(200);
    const body = (await res.json()).data;
    expect(body.status).toBe('cancelled');
    expect(body.result).toMatchObject({ status: 'interrupted' });
    const next = (await createJob('cr', { message: 'cr after cancel' })).json.data;
    expect((await finished('cr', next.id)).result.content).toBe('echo: cr after cancel');
  });

  it('of a job whose turn waits behind a chat: the turn is cancelled before it starts', async () => {
    await createSession('cw');
    ctx.model.script({ match: 'cw-chat-hang', steps: [{ hang: true }] });
    const chat = ctx.t.request('/api/v1/sessions/cw/chat', { method: 'POST', json: { message: 'cw-chat-hang' } });
    await ctx.model.waitFor((r) => r.prompt === 'cw-chat-hang');
    const job = (await createJob('cw', { message: 'cw-waiting-job' })).json.data;
    // The job's turn was handed to the session's queue, where it waits behind the chat.
    const turn = await eventually(
      () => ctx.t.server.jobs.runner.turnOf(job.id),
      10_000,
      "the job's turn to be submitted",
    );
    expect(turn.state).toBe('queued');
    const res = await cancel('cw', job.id);
    expect(res.status).toBe(200);
    expect((await res.json()).data).toMatchObject({
      status: 'cancelled',
      started_at: null,
      error: { type: '/problems/job-cancelled' },
    });
    await ctx.t.request('/api/v1/sessions/cw/interrupt', { method: 'POST' });
    expect((await chat).status).toBe(200);
    expect(ctx.model.mainRequests().some((r) => r.prompt === 'cw-waiting-job')).toBe(false);
  });

  it('of a finished job is 409; of an unknown job 404', async () => {
    await createSession('cf');
    const job = (await createJob('cf', { message: 'cf quick' })).json.data;
    await finished('cf', job.id);
    const res = await cancel('cf', job.id);
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect((await res.json()).type).toBe('/problems/job-finished');
    expect((await cancel('cf', '00000000-0000-7000-8000-000000000000')).status).toBe(404);
  });
});

describe('ordering', () => {
  it('runs two jobs of one session one after the other, in order', async () => {
    await createSession('order');
    ctx.model.script({ match: 'order-first', steps: [{ text: ['first ', 'job ', 'slowly'], chunkDelayMs: 200 }] });
    const first = (await createJob('order', { message: 'order-first' })).json.data;
    const second = (await createJob('order', { message: 'order-second' })).json.data;
    const [a, b] = [await finished('order', first.id), await finished('order', second.id)];
    expect(a.status).toBe('done');
    expect(b.status).toBe('done');
    expect(Date.parse(b.started_at)).toBeGreaterThanOrEqual(Date.parse(a.finished_at) - 5);
    const prompts = ctx.model
      .mainRequests()
      .filter((r) => r.prompt?.startsWith('order-'))
      .map((r) => r.prompt);
    expect(prompts).toEqual(['order-first', 'order-second']);
    expect(promptTexts(ctx.model.mainRequests().at(-1)!)).toEqual(['order-first', 'order-second']);
  });

  it('runs jobs of two sessions at the same time', async () => {
    await createSession('par-a');
    await createSession('par-b');
    ctx.model.script({ match: 'parallel-hang', steps: [{ hang: true }] });
    const a = (await createJob('par-a', { message: 'parallel-hang a' })).json.data;
    const b = (await createJob('par-b', { message: 'parallel-hang b' })).json.data;
    await ctx.model.waitFor((r) => r.prompt === 'parallel-hang a');
    await ctx.model.waitFor((r) => r.prompt === 'parallel-hang b');
    expect((await getJob('par-a', a.id)).status).toBe('running');
    expect((await getJob('par-b', b.id)).status).toBe('running');
    await cancel('par-a', a.id);
    await cancel('par-b', b.id);
  });

  it('shares the session queue with chat: a chat sent while a job runs waits for it', async () => {
    await createSession('shared');
    ctx.model.script({ match: 'shared-job', steps: [{ text: ['job ', 'text ', 'here'], chunkDelayMs: 200 }] });
    const job = (await createJob('shared', { message: 'shared-job' })).json.data;
    await ctx.model.waitFor((r) => r.prompt === 'shared-job');
    const chat = await ctx.t.request('/api/v1/sessions/shared/chat', {
      method: 'POST',
      json: { message: 'shared-chat' },
    });
    expect(chat.status).toBe(200);
    const done = await getJob('shared', job.id);
    expect(done.status).toBe('done');
    expect(promptTexts(ctx.model.mainRequests().at(-1)!)).toEqual(['shared-job', 'shared-chat']);
    // One turn at a time: the chat's turn started after the job's had ended.
    const history = (await (await ctx.t.request('/api/v1/sessions/shared/history')).json()).data;
    expect(history.map((m: any) => [m.role, m.content === 'shared-chat' || m.turn_id === done.turn_id])).toEqual([
      ['user', true],
      ['assistant', true],
      ['user', true],
      ['assistant', false],
    ]);
  });
});

describe('capacity and shutdown', () => {
  it('runs at most JOB_CONCURRENCY jobs at once, and re-queues a job still running at a graceful shutdown', async () => {
    const small = await startTestServer(ctx.model.url, { JOB_CONCURRENCY: '1', SHUTDOWN_GRACE_SECONDS: '0' });
    try {
      for (const name of ['cap-a', 'cap-b'])
        expect((await small.request('/api/v1/sessions', { method: 'POST', json: { name } })).status).toBe(201);
      ctx.model.script({ match: 'cap-hang', times: 1, steps: [{ hang: true }] });
      ctx.model.script({ match: 'cap-hang', steps: [{ text: 'after the restart' }] });
      const post = async (name: string, message: string) =>
        (await (await small.request(`/api/v1/sessions/${name}/jobs`, { method: 'POST', json: { message } })).json())
          .data;
      const get = async (name: string, id: string) =>
        (await (await small.request(`/api/v1/sessions/${name}/jobs/${id}`)).json()).data;
      const a = await post('cap-a', 'cap-hang');
      const b = await post('cap-b', 'cap other session');
      await ctx.model.waitFor((r) => r.prompt === 'cap-hang');
      expect((await get('cap-b', b.id)).status).toBe('queued'); // the one job slot is taken
      await small.restart();
      const done = await eventually(
        async () => {
          const j = await get('cap-a', a.id);
          return j.status === 'done' ? j : undefined;
        },
        60_000,
        'the re-queued job to succeed',
      );
      expect(done).toMatchObject({ restarts: 1, attempts: 2, result: { content: 'after the restart' } });
      const other = await eventually(
        async () => {
          const j = await get('cap-b', b.id);
          return j.status === 'done' ? j : undefined;
        },
        60_000,
        'the queued job to succeed',
      );
      expect(Date.parse(other.started_at)).toBeGreaterThanOrEqual(Date.parse(done.finished_at));
    } finally {
      await small.cleanup();
    }
  });
});

describe('validation and tenancy', () => {
  it('refuses bad bodies with 422 and changes nothing', async () => {
    await createSession('valid');
    const cases: Record<string, unknown>[] = [
      {},
      { message: '   ' },
      { message: 'x', webhook_url: 'ftp://example.com/hook' },
      { message: 'x', webhook_url: 'not a url' },
      { message: 'x', metadata: 'a string' },
      { message: 'x', metadata: { big: 'y'.repeat(20_000) } },
      { message: 'x', permission_mode: 'bypassPermissions' },
      { message: 'x', unknown_field: 1 },
    ];
    for (const body of cases) {
      const { res, json } = await createJob('valid', body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(422);
      expect(json.errors?.length ?? 0).toBeGreaterThan(0);
    }
    const list = await (await ctx.t.request('/api/v1/sessions/valid/jobs')).json();
    expect(list.data).toEqual([]);
  });

  it('keeps jobs to their API key and session', async () => {
    await createSession('mine');
    const job = (await createJob('mine', { message: 'tenancy job' })).json.data;
    await finished('mine', job.id);
    expect((await ctx.t.request(`/api/v1/sessions/mine/jobs/${job.id}`, { key: KEYS[1] })).status).toBe(404);
    expect(
      (await ctx.t.request('/api/v1/sessions/mine/jobs', { method: 'POST', json: { message: 'x' }, key: KEYS[1] }))
        .status,
    ).toBe(404);
    expect(
      (await ctx.t.request(`/api/v1/sessions/mine/jobs/${job.id}/cancel`, { method: 'POST', key: KEYS[1] })).status,
    ).toBe(404);
    expect((await ctx.t.request(`/api/v1/sessions/mine/jobs/${job.id}/events`, { key: KEYS[1] })).status).toBe(404);
    await createSession('other');
    expect((await ctx.t.request(`/api/v1/sessions/other/jobs/${job.id}`)).status).toBe(404);
    expect((await ctx.t.request(`/api/v1/sessions/mine/jobs/not-a-uuid`)).status).toBe(422);
    expect((await ctx.t.request(`/api/v1/sessions/mine/jobs`, { key: null })).status).toBe(401);
  });
});
