// Idempotency-Key through the real CLI: a repeat of chat, stream, job or session creation replays the first response and runs one turn.
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';
import { readSse } from '../support/sse.js';
import { eventually } from '../support/wait.js';

const ctx = useTestServer();

const post = (path: string, json: unknown, key?: string, apiKey?: string) =>
  ctx.t.request(`/api/v1${path}`, {
    method: 'POST',
    json,
    headers: key === undefined ? {} : { 'idempotency-key': key },
    ...(apiKey && { key: apiKey }),
  });

const turnsFor = (prompt: string) => ctx.model.mainRequests().filter((r) => r.prompt === prompt).length;

async function session(name: string) {
  expect((await post('/sessions', { name })).status).toBe(201);
}

describe('Idempotency-Key', () => {
  it("replays a sync chat: same status and body, one turn in the model server's log", async () => {
    await session('chat-idem');
    const first = await post('/sessions/chat-idem/chat', { message: 'idem chat once' }, 'chat-key-1');
    expect(first.status).toBe(200);
    const body = await first.text();
    const again = await post('/sessions/chat-idem/chat', { message: 'idem chat once' }, 'chat-key-1');
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toContain('application/json');
    expect(await again.text()).toBe(body);
    expect(turnsFor('idem chat once')).toBe(1);
    const history = (await (await ctx.t.request('/api/v1/sessions/chat-idem/history')).json()).data;
    expect(history).toHaveLength(2);
  });

  it('makes a repeat of a sync chat that is still running wait for it, then get its response', async () => {
    await session('chat-wait');
    ctx.model.script({ match: 'idem-slow-chat', steps: [{ text: ['slow ', 'but ', 'once'], chunkDelayMs: 300 }] });
    const first = post('/sessions/chat-wait/chat', { message: 'idem-slow-chat' }, 'wait-key');
    await ctx.model.waitFor((r) => r.prompt === 'idem-slow-chat');
    const repeat = await post('/sessions/chat-wait/chat', { message: 'idem-slow-chat' }, 'wait-key');
    const original = await first;
    expect(original.status).toBe(200);
    expect(repeat.status).toBe(200);
    expect(repeat.headers.get('idempotent-replayed')).toBe('true');
    expect(await repeat.json()).toEqual(await original.json());
    expect(turnsFor('idem-slow-chat')).toBe(1);
  });

  it('replays a job creation: the same job (202, Location), one job, one turn', async () => {
    await session('job-idem');
    const first = await post('/sessions/job-idem/jobs', { message: 'idem job once' }, 'job-key-1');
    expect(first.status).toBe(202);
    const job = (await first.json()).data;
    const again = await post('/sessions/job-idem/jobs', { message: 'idem job once' }, 'job-key-1');
    expect(again.status).toBe(202);
    expect(again.headers.get('location')).toBe(first.headers.get('location'));
    expect((await again.json()).data.id).toBe(job.id);
    await eventually(
      async () =>
        (await (await ctx.t.request(`/api/v1/sessions/job-idem/jobs/${job.id}`)).json()).data.status === 'done',
      30_000,
      'the job to succeed',
    );
    const third = await post('/sessions/job-idem/jobs', { message: 'idem job once' }, 'job-key-1');
    expect((await third.json()).data.status).toBe('queued'); // the first response, as it was
    const list = (await (await ctx.t.request('/api/v1/sessions/job-idem/jobs')).json()).data;
    expect(list).toHaveLength(1);
    expect(turnsFor('idem job once')).toBe(1);
  });

  it('replays a session creation; without the key a repeat is a conflict', async () => {
    const first = await post('/sessions', { name: 'sess-idem' }, 'sess-key');
    expect(first.status).toBe(201);
    const again = await post('/sessions', { name: 'sess-idem' }, 'sess-key');
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(await first.json());
    expect((await post('/sessions', { name: 'sess-idem' })).status).toBe(409);
  });

  it('replays a finished stream as its stored events; a repeat while it runs is 409', async () => {
    await session('stream-idem');
    ctx.model.script({ match: 'idem-stream', steps: [{ text: ['streamed ', 'only ', 'once'], chunkDelayMs: 250 }] });
    const first = await post('/sessions/stream-idem/chat/stream', { message: 'idem-stream' }, 'stream-key');
    expect(first.status).toBe(200);
    const reader = readSse(first);
    expect((await reader.next())?.event).toBe('session');
    const busy = await post('/sessions/stream-idem/chat/stream', { message: 'idem-stream' }, 'stream-key');
    expect(busy.status).toBe(409);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect((await busy.json()).type).toBe('/problems/idempotency-in-flight');
    const events = await reader.all();
    expect(events.at(-1)!.event).toBe('result');

    const replay = await eventually(
      async () => {
        const res = await post('/sessions/stream-idem/chat/stream', { message: 'idem-stream' }, 'stream-key');
        if (res.status === 200) return res;
        await res.body?.cancel();
        return undefined;
      },
      10_000,
      'the stream to be stored',
    );
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.headers.get('content-type')).toContain('text/event-stream');
    const replayed = await readSse(replay).all();
    expect(replayed.map((e) => [e.id, e.event, e.data])).toEqual(events.map((e) => [e.id, e.event, e.data]));
    expect(turnsFor('idem-stream')).toBe(1);
  });

  it('refuses the same key with another body or path (422), and an empty or over-long key (422)', async () => {
    await session('misuse');
    expect((await post('/sessions/misuse/chat', { message: 'misuse one' }, 'misuse-key')).status).toBe(200);
    const other = await post('/sessions/misuse/chat', { message: 'misuse two' }, 'misuse-key');
    expect(other.status).toBe(422);
    const problem = await other.json();
    expect(problem.type).toBe('/problems/idempotency-key-reused');
    expect(problem.errors[0]).toMatchObject({ location: 'headers', pointer: '/idempotency-key' });
    expect((await post('/sessions/misuse/jobs', { message: 'misuse one' }, 'misuse-key')).status).toBe(422);
    // Key order in the body does not matter.
    expect((await post('/sessions/misuse/chat', { max_turns: 3, message: 'misuse three' }, 'order-key')).status).toBe(
      200,
    );
    expect(
      (await post('/sessions/misuse/chat', { message: 'misuse three', max_turns: 3 }, 'order-key')).headers.get(
        'idempotent-replayed',
      ),
    ).toBe('true');

    for (const key of ['', 'k'.repeat(256)]) {
      const res = await post('/sessions/misuse/chat', { message: 'never runs' }, key);
      expect(res.status).toBe(422);
      expect((await res.json()).type).toBe('/problems/idempotency-key-invalid');
    }
    expect((await post('/sessions/misuse/chat', { message: 'longest key' }, 'k'.repeat(255))).status).toBe(200);
    expect(turnsFor('never runs')).toBe(0);
    expect(turnsFor('misuse two')).toBe(0);
  });

  it('keeps keys per API key: another key with the same Idempotency-Key runs its own request', async () => {
    await session('per-key');
    expect((await post('/sessions', { name: 'per-key' }, undefined, KEYS[1])).status).toBe(201);
    expect((await post('/sessions/per-key/chat', { message: 'per key chat' }, 'shared-key')).status).toBe(200);
    const other = await post('/sessions/per-key/chat', { message: 'per key chat' }, 'shared-key', KEYS[1]);
    expect(other.status).toBe(200);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(turnsFor('per key chat')).toBe(2);
  });

  it('does not keep the answer of a sync chat whose client left (its turn was interrupted): a retry runs anew', async () => {
    await session('left');
    ctx.model.script({ match: 'idem-client-left', times: 1, steps: [{ hang: true }] });
    const abort = new AbortController();
    const first = ctx.t.request('/api/v1/sessions/left/chat', {
      method: 'POST',
      json: { message: 'idem-client-left' },
      headers: { 'idempotency-key': 'left-key' },
      signal: abort.signal,
    });
    await ctx.model.waitFor((r) => r.prompt === 'idem-client-left');
    abort.abort();
    await expect(first).rejects.toThrow();
    const retry = await eventually(
      async () => {
        const res = await post('/sessions/left/chat', { message: 'idem-client-left' }, 'left-key');
        if (res.status === 200) return res;
        await res.body?.cancel();
        return undefined;
      },
      20_000,
      'the retry to run',
    );
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect((await retry.json()).data).toMatchObject({ status: 'ok' });
    expect(turnsFor('idem-client-left')).toBe(2);
  });

  it('does not keep a response a retry could fix (409, 5xx): the key is free again', async () => {
    await session('retryable');
    ctx.model.script({
      match: 'idem-api-down',
      times: 2,
      steps: [{ error: { status: 500, message: 'scripted outage' } }],
    });
    const failed = await post('/sessions/retryable/chat', { message: 'idem-api-down' }, 'retry-key');
    expect(failed.status).toBe(502);
    const retried = await post('/sessions/retryable/chat', { message: 'idem-api-down' }, 'retry-key');
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
  });
});
