// The event schemas hold what real turns send: every SSE frame of a turn with a tool call, a failed turn's error frame
// and the sync answer check against the schemas, with no field the schemas leave out.
import { Value } from 'typebox/value';
import { beforeAll, describe, expect, it } from 'vitest';
import { TURN_EVENT_SCHEMAS } from '../../src/engine/events.js';
import { ChatEventFrameSchema } from '../../src/http/schemas/events.js';
import { SEED_FRAME_DATA } from '../../src/http/seed-sse.js';
import { ChatResult } from '../../src/http/schemas/sessions.js';
import { useTestServer } from '../support/fixture.js';
import { readSse, type SseEvent } from '../support/sse.js';

const ctx = useTestServer();
const session = { name: 'vocabulary' };

beforeAll(async () => {
  expect((await ctx.api.POST('/api/v1/sessions', { body: session })).response.status).toBe(201);
});

async function streamedTurn(message: string): Promise<SseEvent[]> {
  const { response } = await ctx.api.POST('/api/v1/sessions/{name}/chat/stream', {
    params: { path: session },
    body: { message },
    parseAs: 'stream',
  });
  expect(response.status).toBe(200);
  return readSse(response).all();
}

/** Fields of an event that its type's schema does not list. */
function unlisted(e: SseEvent): string[] {
  const schema =
    TURN_EVENT_SCHEMAS.find((s) => s.properties.type.const === e.event) ??
    (Object.entries(SEED_FRAME_DATA).find(([name]) => name === e.event)?.[1] as { properties: object } | undefined);
  if (!schema) return [`event type ${e.event}`];
  return Object.keys(e.data).filter((key) => !(key in schema.properties));
}

function expectValidFrames(events: SseEvent[]): void {
  for (const e of events) {
    // The Python seed's frames beside ours have no `id:` line.
    const frame = { ...(Number.isInteger(e.id) && { id: e.id }), event: e.event, data: e.data };
    expect(Value.Check(ChatEventFrameSchema, frame), JSON.stringify(frame)).toBe(true);
    expect(unlisted(e), JSON.stringify(frame)).toEqual([]);
  }
}

describe('the turn event schemas against a real turn', () => {
  it('every frame of a turn that runs a tool matches its schema', async () => {
    ctx.model.script({
      match: 'vocabulary-write',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/words.txt', content: 'one vocabulary\n' } } },
        { text: 'Wrote words.txt.' },
      ],
    });
    const events = await streamedTurn('please vocabulary-write');
    expect(new Set(events.map((e) => e.event))).toEqual(
      new Set(['session', 'tool_use', 'tool_result', 'text', 'result', 'tool', 'assistant', 'done']),
    );
    expectValidFrames(events);
  }, 120_000);

  it("a failed turn's error frame matches its schema", async () => {
    ctx.model.script({ match: 'vocabulary-refused', steps: [{ error: { status: 400, message: 'scripted refusal' } }] });
    const events = await streamedTurn('vocabulary-refused now');
    expect(events.at(-1)?.event).toBe('error');
    expectValidFrames(events);
  }, 120_000);

  it('the sync answer matches ChatResult, field for field', async () => {
    const { response, data } = await ctx.api.POST('/api/v1/sessions/{name}/chat', {
      params: { path: session },
      body: { message: 'vocabulary in sync' },
    });
    expect(response.status).toBe(200);
    expect(Value.Check(ChatResult, data?.data), JSON.stringify(data)).toBe(true);
    expect(Object.keys(data?.data ?? {}).filter((key) => !(key in ChatResult.properties))).toEqual([]);
  }, 120_000);
});
