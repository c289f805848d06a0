// The Anthropic Messages endpoint through the official `@anthropic-ai/sdk` client, on the real CLI: create, stream, a re-sent history on the same live session, count_tokens, typed errors.
import Anthropic from '@anthropic-ai/sdk';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../../support/fixture.js';
import { promptTexts } from '../../support/model-server.js';
import { cliProcesses } from '../../support/processes.js';
import { KEYS } from '../../support/server.js';

// Each key may send 40 requests a minute: the last test spends the rest of the second key's.
const ctx = useTestServer({
  RATE_LIMIT_REQUESTS: '40',
  RATE_LIMIT_WINDOW: '60',
  MAX_LIVE_SESSIONS: '3',
  MAX_CONCURRENT_TURNS: '3',
});

function client(key: string = KEYS[0], headers: Record<string, string> = {}) {
  return new Anthropic({ apiKey: key, baseURL: ctx.t.url, maxRetries: 0, defaultHeaders: headers });
}

async function session(name: string) {
  return (await (await ctx.t.request(`/api/v1/sessions/${name}`)).json()).data;
}

describe('POST /v1/messages (@anthropic-ai/sdk)', () => {
  it('answers on a new session, then a re-sent history continues the same live session and workspace', async () => {
    ctx.model.script({
      match: 'an-write',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/a.txt', content: 'anthropic turn one\n' } } },
        { text: 'Wrote a.txt.' },
      ],
    });
    const first = await client().messages.create({
      model: 'sonnet',
      max_tokens: 512,
      system: 'Be terse.',
      messages: [{ role: 'user', content: 'an-write please' }],
    });
    expect(first.type).toBe('message');
    expect(first.content).toEqual([{ type: 'text', text: 'Wrote a.txt.' }]);
    expect(first.stop_reason).toBe('end_turn');
    expect(first.usage.input_tokens).toBeGreaterThan(0);
    expect(first.usage.output_tokens).toBeGreaterThan(0);
    const ext = (first as any).x_claude_code;
    expect(first.id).toBe(`msg_${ext.turn_id.replace(/-/g, '')}`);
    const req = ctx.model.mainRequests().find((r) => r.prompt === 'an-write please')!;
    expect(req.body.max_tokens).toBe(512);
    expect(JSON.stringify(req.body.system)).toContain('Be terse.');
    const s = await session(ext.session);
    expect(readFileSync(join(s.workspace, 'a.txt'), 'utf8')).toBe('anthropic turn one\n');

    ctx.model.script({
      match: 'an-read',
      steps: [{ tool: { name: 'Read', input: { file_path: '{{cwd}}/a.txt' } } }, { text: 'Read it.' }],
    });
    const pids = cliProcesses({ under: ctx.t.dirs.data }).map((p) => p.pid);
    const second = await client().messages.create({
      model: 'sonnet',
      max_tokens: 512,
      system: 'Be terse.',
      messages: [
        { role: 'user', content: 'an-write please' },
        { role: 'assistant', content: [{ type: 'text', text: 'Wrote a.txt.' }] },
        { role: 'user', content: 'an-read it' },
      ],
    });
    const ext2 = (second as any).x_claude_code;
    expect(ext2).toMatchObject({ session: ext.session, session_continued: true });
    expect(ext2.steps[0].output).toContain('anthropic turn one');
    expect(cliProcesses({ under: ctx.t.dirs.data }).map((p) => p.pid)).toEqual(pids);
    const follow = ctx.model.mainRequests().find((r) => r.prompt === 'an-read it')!;
    expect(promptTexts(follow)).toEqual(['an-write please', 'an-read it']);
  });

  it('streams message_start, content_block_start/delta/stop, message_delta and message_stop', async () => {
    ctx.model.script({ match: 'an-stream', steps: [{ text: ['One ', 'two ', 'three.'] }] });
    const stream = client().messages.stream({
      model: 'sonnet',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'an-stream go' }],
    });
    const types: string[] = [];
    const deltas: string[] = [];
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') deltas.push(event.delta.text);
    }
    const final = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe('One two three.');
    expect(final.content).toEqual([{ type: 'text', text: 'One two three.' }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it('honours stop_sequences, across streamed deltas too', async () => {
    ctx.model.script({ match: 'an-stop', steps: [{ text: ['One tw', 'o STO', 'P three'] }] });
    const whole = await client().messages.create({
      model: 'sonnet',
      max_tokens: 128,
      stop_sequences: ['STOP'],
      messages: [{ role: 'user', content: 'an-stop whole' }],
    });
    expect(whole.content).toEqual([{ type: 'text', text: 'One two ' }]);
    expect(whole).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'STOP' });
    const final = await client()
      .messages.stream({
        model: 'sonnet',
        max_tokens: 128,
        stop_sequences: ['STOP'],
        messages: [{ role: 'user', content: 'an-stop streamed' }],
      })
      .finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: 'One two ' }]);
    expect(final).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'STOP' });
  });

  it('counts tokens', async () => {
    const counted = await client().messages.countTokens({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'count these words please' }],
    });
    expect(counted.input_tokens).toBeGreaterThan(0);
    await expect(
      client().messages.countTokens({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(
      client().messages.countTokens({
        model: 'sonnet',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ name: 'f', input_schema: { type: 'object' } }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });

  it('lists models in the Anthropic form', async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['sonnet', 'opus', 'haiku']));
    expect((await client().models.retrieve('opus')).type).toBe('model');
  });

  it('raises the typed errors in the Anthropic shape', async () => {
    const base = { model: 'sonnet', max_tokens: 64, messages: [{ role: 'user' as const, content: 'x' }] };
    await expect(client('wrong-key-000000').messages.create(base)).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
    for (const extra of [{ temperature: 0.3 }, { stop_sequences: [''] }, { top_k: 5 }]) {
      const err = await client()
        .messages.create({ ...base, ...extra })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect((err as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
        type: 'error',
        error: { type: 'invalid_request_error', message: expect.stringContaining(Object.keys(extra)[0]!) },
      });
    }
    const image = await client()
      .messages.create({
        ...base,
        messages: [
          {
            role: 'user',
            content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }],
          },
        ],
      })
      .catch((e: unknown) => e);
    expect(image).toBeInstanceOf(Anthropic.BadRequestError);
    await expect(client().messages.create({ ...base, model: 'gpt-4o' })).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    await expect(client().messages.create({ ...base, messages: [] })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
    const huge = await client()
      .messages.create({ ...base, messages: [{ role: 'user', content: 'y'.repeat(ctx.t.config.bodyLimitBytes + 10) }] })
      .catch((e: unknown) => e);
    expect(huge).toBeInstanceOf(Anthropic.APIError);
    expect((huge as InstanceType<typeof Anthropic.APIError>).status).toBe(413);
    expect((huge as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      error: { type: 'request_too_large' },
    });
  });

  it('answers 409 in the Anthropic shape when a named session follows another template', async () => {
    const named = client(KEYS[0], { 'X-Session-Name': 'an-templated' });
    // The templates list is a map keyed by name (the Python seed's shape).
    const templates = Object.keys((await (await ctx.t.request('/api/v1/templates')).json()).data as object);
    expect(templates.length).toBeGreaterThan(1);
    await named.messages.create({
      model: `template:${templates[0]}`,
      max_tokens: 64,
      messages: [{ role: 'user', content: 'an-template one' }],
    });
    const err = await named.messages
      .create({
        model: `template:${templates[1]}`,
        max_tokens: 64,
        messages: [{ role: 'user', content: 'an-template two' }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.ConflictError);
    expect((err as InstanceType<typeof Anthropic.ConflictError>).headers?.get('x-should-retry')).toBe('false');
    expect((await session('an-templated')).totals.turns).toBe(1);
  });

  it('raises RateLimitError with retry-after once the key is over RATE_LIMIT_REQUESTS', async () => {
    const c = client(KEYS[1]);
    let err: unknown;
    for (let i = 0; i < 60 && !err; i++) {
      err = await c.models.retrieve('sonnet').then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const rate = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(Number(rate.headers?.get('retry-after'))).toBeGreaterThan(0);
    expect(rate.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
  });
});
