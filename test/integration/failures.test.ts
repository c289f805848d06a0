// Failure paths through the real CLI: API errors (502), time-outs (504), overload (503), busy sessions (409), disconnects, interrupts.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { readSse } from '../support/sse.js';
import { eventually } from '../support/wait.js';

const ctx = useTestServer({
  CLAUDE_TIMEOUT_SECONDS: '4',
  MAX_CONCURRENT_TURNS: '1',
  MAX_LIVE_SESSIONS: '3',
  TURN_QUEUE_TIMEOUT_SECONDS: '0.5',
  SESSION_QUEUE_LIMIT: '1',
});

beforeAll(async () => {
  for (const name of ['errs', 'slow', 'other', 'cut']) {
    expect((await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name } })).status).toBe(201);
  }
});

const chat = (name: string, message: string, init: RequestInit = {}) =>
  ctx.t.request(`/api/v1/sessions/${name}/chat`, { method: 'POST', json: { message }, ...init });
const history = async (name: string) =>
  (await (await ctx.t.request(`/api/v1/sessions/${name}/history?limit=100`)).json()).data as any[];

async function expectProblem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = await res.json();
  expect(body).toMatchObject({
    status,
    title: expect.any(String),
    detail: expect.any(String),
    request_id: expect.any(String),
    instance: expect.any(String),
  });
  expect(body.type).toMatch(/^\/problems\//);
  return body;
}

describe('Claude API failures', () => {
  for (const status of [500, 529, 429]) {
    it(`a ${status} from the Messages API is a 502 problem with the CLI's message, kept in history`, async () => {
      ctx.model.script({
        match: `fail-${status}`,
        steps: [{ error: { status, message: `scripted failure ${status}` } }],
      });
      const body = await expectProblem(await chat('errs', `please fail-${status}`), 502);
      expect(body.type).toBe('/problems/api-error');
      expect(body.detail).toContain(`scripted failure ${status}`);
      expect(body.upstream_status).toBe(status);
      const last = (await history('errs')).at(-1);
      expect(last).toMatchObject({ role: 'assistant', status: 'error' });
      expect(last.error.type).toBe('/problems/api-error');
    });
  }

  it('a stream cut mid-event fails the turn with a 502', async () => {
    ctx.model.script({ match: 'cut-me', steps: [{ cut: true }] });
    await expectProblem(await chat('cut', 'cut-me now'), 502);
  });

  it('the session works again after failed turns', async () => {
    const res = await chat('errs', 'are you back?');
    expect(res.status).toBe(200);
    expect((await res.json()).data.content).toContain('are you back?');
  });
});

describe('time-outs, overload and busy sessions', () => {
  it('interrupts a turn past CLAUDE_TIMEOUT_SECONDS and answers 504; others wait for the slot or get 503, the same session 409', async () => {
    ctx.model.script({ match: 'hang-forever', steps: [{ hang: true }] });
    const hung = chat('slow', 'hang-forever');
    await ctx.model.waitFor((r) => r.prompt === 'hang-forever');

    const overloaded = await chat('other', 'no slot for me');
    const body = await expectProblem(overloaded, 503);
    expect(body.type).toBe('/problems/overloaded');
    expect(Number(overloaded.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    const queued = chat('slow', 'queued behind the hang'); // waits in the session's queue (limit 1)
    const busy = await chat('slow', 'one too many');
    expect((await expectProblem(busy, 409)).type).toBe('/problems/session-busy');

    const timedOut = await hung;
    expect((await expectProblem(timedOut, 504)).type).toBe('/problems/timeout');
    const after = await queued;
    expect(after.status).toBe(200);
    expect((await after.json()).data.content).toContain('queued behind the hang');

    const rows = await history('slow');
    expect(rows.map((r) => [r.role, r.status])).toEqual([
      ['user', 'ok'],
      ['assistant', 'timeout'],
      ['user', 'ok'],
      ['assistant', 'ok'],
    ]);
    expect(rows.map((r) => r.content)[2]).toBe('queued behind the hang');
    // Requests that were refused left nothing behind.
    expect(rows.some((r) => r.content === 'one too many')).toBe(false);
    expect(await history('other')).toEqual([]);
  });
});

describe('interrupting', () => {
  it('a sync client that goes away interrupts its turn (CHAT_DISCONNECT=interrupt) and the session goes on', async () => {
    ctx.model.script({ match: 'abandon-me', steps: [{ hang: true }] });
    const controller = new AbortController();
    const pending = chat('other', 'abandon-me', { signal: controller.signal }).catch((e: unknown) => e as Error);
    await ctx.model.waitFor((r) => r.prompt === 'abandon-me');
    controller.abort();
    await pending;
    const rows = await eventually(
      async () => {
        const h = await history('other');
        return h.length >= 2 ? h : undefined;
      },
      30_000,
      'the interrupted turn in history',
    );
    expect(rows.at(-1)).toMatchObject({ role: 'assistant', status: 'interrupted' });
    const next = await chat('other', 'still there?');
    expect(next.status).toBe(200);
  });

  it('POST /interrupt stops a streamed turn, which ends with status interrupted', async () => {
    ctx.model.script({ match: 'stop-me', steps: [{ hang: true }] });
    const res = await ctx.t.request('/api/v1/sessions/other/chat/stream', {
      method: 'POST',
      json: { message: 'stop-me' },
    });
    expect(res.status).toBe(200);
    const reader = readSse(res);
    await ctx.model.waitFor((r) => r.prompt === 'stop-me');
    const stop = await ctx.t.request('/api/v1/sessions/other/interrupt', { method: 'POST' });
    expect((await stop.json()).data).toEqual({ interrupted: true });
    const events = await reader.all();
    expect(events.at(-1)).toMatchObject({ event: 'result', data: { status: 'interrupted' } });
    // A running turn and one waiting behind it: both end.
    ctx.model.script({ match: 'stuck-again', steps: [{ hang: true }] });
    const running = chat('other', 'stuck-again');
    await ctx.model.waitFor((r) => r.prompt === 'stuck-again');
    const waiting = chat('other', 'waiting behind');
    await eventually(
      async () => (await (await ctx.t.request('/api/v1/sessions/other')).json()).data.busy,
      10_000,
      'busy session',
    );
    const both = await ctx.t.request('/api/v1/sessions/other/interrupt', { method: 'POST' });
    expect((await both.json()).data).toEqual({ interrupted: true });
    expect((await (await running).json()).data.status).toBe('interrupted');
    expect((await waiting).status).toBe(409);
    const idle = await ctx.t.request('/api/v1/sessions/other/interrupt', { method: 'POST' });
    expect((await idle.json()).data).toEqual({ interrupted: false });
  });
});
