// Streamed chat (SSE) through the real CLI: event vocabulary and order, live deltas, sequential ids, heartbeats, Last-Event-ID replay.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { needs } from '../support/needs.js';
import { ownEvents, readSse, type SseEvent } from '../support/sse.js';
import { createSession } from '../support/sessions.js';

const noBubblewrap = await needs('the streamed Bash turn (Bash runs in the sandbox)', 'bubblewrap');
const ctx = useTestServer({ CHAT_DISCONNECT: 'continue', SSE_HEARTBEAT_SECONDS: '0.2' });

beforeAll(async () => {
  await createSession(ctx.t, 'stream');
});

function stream(message: string, headers: Record<string, string> = {}, controller = new AbortController()) {
  return ctx.t.request('/api/v1/sessions/stream/chat/stream', {
    method: 'POST',
    json: { message },
    headers,
    signal: controller.signal,
  });
}

async function sessionState() {
  return (await (await ctx.t.request('/api/v1/sessions/stream')).json()).data;
}

const SEED_EVENTS = new Set(['assistant', 'tool', 'done']);

/** The Python seed's frames of a stream, as [event, data]. */
function seedFrames(events: SseEvent[]): Array<[string, unknown]> {
  return events.filter((e) => SEED_EVENTS.has(e.event)).map((e) => [e.event, e.data]);
}

/** The seed's `done` data for our result. */
function seedDone(result: any) {
  return {
    session_id: result.session_id,
    content: result.content,
    cost: result.cost_usd,
    duration_ms: result.duration_ms,
    num_turns: result.num_turns,
    tools_used: result.tools_used.map((t: any) => ({ name: t.name, input: t.input })),
  };
}

describe('SSE chat', () => {
  it.skipIf(noBubblewrap)(
    'streams session, tool_use, tool_result, text deltas and result with sequential ids',
    async () => {
      ctx.model.script({
        match: 'stream-with-bash',
        steps: [
          { tool: { name: 'Bash', input: { command: 'echo streamed-$((6*7))', description: 'marker' } } },
          { text: ['All ', 'done ', 'here.'] },
        ],
      });
      const res = await stream('stream-with-bash');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      // The stream takes the response over from Fastify, keeping the headers its hooks set.
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
      const all = await readSse(res).all();
      const events = ownEvents(all);
      const types = events.map((e) => e.event);
      expect(types[0]).toBe('session');
      expect(types.at(-1)).toBe('result');
      expect(types.indexOf('tool_use')).toBeLessThan(types.indexOf('tool_result'));
      expect(types.filter((x) => x === 'text').length).toBeGreaterThanOrEqual(2);
      const ids = events.map((e) => e.id);
      expect(ids[0]).toBe(1);
      ids.forEach((id, i) => expect(id).toBe(ids[0]! + i));
      const toolUse = events.find((e) => e.event === 'tool_use')!.data;
      const toolResult = events.find((e) => e.event === 'tool_result')!.data;
      expect(toolUse).toMatchObject({ type: 'tool_use', name: 'Bash', input: { command: 'echo streamed-$((6*7))' } });
      expect(toolResult).toMatchObject({ type: 'tool_result', id: toolUse.id, is_error: false });
      expect(toolResult.output).toContain('streamed-42');
      const text = events
        .filter((e) => e.event === 'text')
        .map((e) => e.data.text)
        .join('');
      const result = events.at(-1)!.data;
      expect(result.content).toBe('All done here.');
      expect(text).toBe('All done here.');
      expect(result.cost_usd).toBeGreaterThan(0);
      expect(result.tools_used[0].name).toBe('Bash');
      const session = events[0]!.data;
      expect(session.session_id).toBe(result.session_id);
      expect(session.cwd).toBe((await sessionState()).working_dir);
      // The seed's frames beside ours: the tool, the text after it as one block, and its summary before `result`.
      expect(seedFrames(all)).toEqual([
        ['tool', { content: null, tool_name: 'Bash' }],
        ['assistant', { content: 'All done here.', tool_name: null }],
        ['done', seedDone(result)],
      ]);
    },
  );

  it('continues ids across turns and records the streamed turn in history', async () => {
    const before = await readSse(await stream('first streamed turn')).all();
    const events = await readSse(await stream('second streamed turn')).all();
    expect(events[0]!.id).toBe(before.at(-1)!.id + 1);
    const history = (await (await ctx.t.request('/api/v1/sessions/stream/history')).json()).data;
    expect(history.at(-1)).toMatchObject({ role: 'assistant', content: 'echo: second streamed turn', status: 'ok' });
  });

  it('sends text deltas while the turn still runs, and heartbeats on a quiet stream', async () => {
    ctx.model.script({
      match: 'slow-deltas',
      steps: [{ text: ['one ', 'two ', 'three ', 'four'], chunkDelayMs: 400 }],
    });
    const reader = readSse(await stream('slow-deltas'));
    let first;
    do first = await reader.next();
    while (first && first.event !== 'text');
    expect(first?.data.text).toBe('one ');
    expect((await sessionState()).busy).toBe(true);
    const rest = await reader.all();
    expect(rest.at(-1)!.event).toBe('result');
    expect(reader.comments).toContain('ping');
  });

  it('replays the events after Last-Event-ID of a running turn without starting a new one', async () => {
    ctx.model.script({ match: 'replay-me', steps: [{ text: ['a1 ', 'a2 ', 'a3 ', 'a4 ', 'a5'], chunkDelayMs: 300 }] });
    const calls = () => ctx.model.mainRequests().filter((r) => r.prompt === 'replay-me').length;
    const controller = new AbortController();
    const first = readSse(await stream('replay-me', {}, controller), controller);
    const seen = [await first.next(), await first.next()];
    first.abort();
    const resumeFrom = seen[1]!.id;
    const again = await stream('replay-me', { 'Last-Event-ID': String(resumeFrom) });
    expect(again.status).toBe(200);
    const rest = ownEvents(await readSse(again).all());
    expect(rest[0]!.id).toBe(resumeFrom + 1);
    expect(rest.at(-1)!.event).toBe('result');
    expect(rest.at(-1)!.data.content).toBe('a1 a2 a3 a4 a5');
    rest.forEach((e, i) => expect(e.id).toBe(resumeFrom + 1 + i));
    expect(calls()).toBe(1);

    // After the turn ended: GET attach replays from any id it still holds.
    const attached = await ctx.t.request(`/api/v1/sessions/stream/chat/stream?last_event_id=${resumeFrom}`);
    expect(attached.status).toBe(200);
    const replay = ownEvents(await readSse(attached).all());
    expect(replay.map((e) => e.id)).toEqual(rest.map((e) => e.id));
  });

  it('answers 410 for an event id no kept turn holds', async () => {
    const res = await ctx.t.request('/api/v1/sessions/stream/chat/stream?last_event_id=999999');
    expect(res.status).toBe(410);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const again = await stream('ignored', { 'Last-Event-ID': '999999' });
    expect(again.status).toBe(410);
  });

  it('answers problems, not streams, when the turn cannot start', async () => {
    const missing = await ctx.t.request('/api/v1/sessions/nope/chat/stream', {
      method: 'POST',
      json: { message: 'hi' },
    });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const blank = await stream('   ');
    expect(blank.status).toBe(422);
  });
});

describe("the Python seed's event vocabulary", () => {
  const seedStream = (message: string, events?: string) =>
    ctx.t.request(`/api/v1/sessions/stream/chat/stream${events === undefined ? '' : `?events=${events}`}`, {
      method: 'POST',
      json: { message },
    });

  it('events=seed sends only assistant, tool and done, each with the id of the event it comes from', async () => {
    ctx.model.script({
      match: 'seed-only-write',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/seed.txt', content: 'seed\n' } } },
        { text: ['Wrote ', 'seed.txt.'] },
      ],
    });
    const res = await seedStream('seed-only-write', 'seed');
    expect(res.status).toBe(200);
    const events = await readSse(res).all();
    expect(events.map((e) => e.event)).toEqual(['tool', 'assistant', 'done']);
    expect(events.every((e) => Number.isInteger(e.id) && e.id > 0)).toBe(true);
    expect(events[0]!.data).toEqual({ content: null, tool_name: 'Write' });
    expect(events[1]!.data).toEqual({ content: 'Wrote seed.txt.', tool_name: null });
    const done = events[2]!.data;
    expect(done).toMatchObject({ content: 'Wrote seed.txt.', num_turns: 2 });
    expect(done.tools_used).toEqual([{ name: 'Write', input: expect.objectContaining({ content: 'seed\n' }) }]);
    expect(done.cost).toBeGreaterThan(0);
    expect(Object.keys(done).sort()).toEqual(
      ['content', 'cost', 'duration_ms', 'num_turns', 'session_id', 'tools_used'].sort(),
    );
    // The same turn in history, as any other.
    const history = (await (await ctx.t.request('/api/v1/sessions/stream/history')).json()).data;
    expect(history.at(-1)).toMatchObject({ role: 'assistant', content: 'Wrote seed.txt.' });
  });

  it('events=native sends only our events; the default adds the seed frames without ids', async () => {
    const native = await readSse(await seedStream('native only', 'native')).all();
    const kinds = (events: SseEvent[]) => events.map((e) => e.event).filter((e, i, all) => e !== all[i - 1]);
    expect(kinds(native)).toEqual(['session', 'text', 'result']);
    expect(ownEvents(native)).toEqual(native);
    const both = await readSse(await seedStream('both vocabularies')).all();
    expect(kinds(both)).toEqual(['session', 'text', 'assistant', 'done', 'result']);
    expect(seedFrames(both)[0]).toEqual(['assistant', { content: 'echo: both vocabularies', tool_name: null }]);
    expect(kinds(ownEvents(both))).toEqual(['session', 'text', 'result']);
  });

  it("a failed turn's error frame carries the seed's error beside our problem (ours alone with events=native)", async () => {
    for (const events of ['all', 'seed', 'native']) {
      ctx.model.script({
        match: `seed-refused-${events}`,
        steps: [{ error: { status: 400, message: 'scripted refusal' } }],
      });
      const frames = await readSse(await seedStream(`seed-refused-${events}`, events)).all();
      const error = frames.at(-1)!;
      expect(error.event, events).toBe('error');
      expect(error.data.problem.status).toBe(502);
      if (events === 'native') expect(error.data.error).toBeUndefined();
      else expect(error.data.error).toBe(error.data.problem.detail);
      if (events === 'seed') expect(frames.map((e) => e.event)).toEqual(['error']);
    }
  });

  it('an unknown vocabulary is a 422 problem and starts no turn', async () => {
    const before = ctx.model.mainRequests().length;
    const res = await seedStream('never runs', 'python');
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(ctx.model.mainRequests().length).toBe(before);
  });
});
