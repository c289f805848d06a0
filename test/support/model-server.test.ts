// Tests of the scripted model server: its wire format directly over HTTP, then the real Claude Code CLI driven by it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLI_PATH, makeCliEnv, type CliEnv } from './cli-env.js';
import { classify, ModelServer, promptTexts, type LoggedRequest } from './model-server.js';
import { cliProcesses, waitForNoCliProcesses } from './processes.js';

const CWD = '/tmp/some/project';

/** A request body shaped like the CLI's main-loop calls. */
function mainBody(messages: unknown[], stream = true) {
  return {
    model: 'claude-opus-5-5',
    max_tokens: 32000,
    stream,
    system: [{ type: 'text', text: 'You are a Claude agent.' }],
    tools: [{ name: 'Bash', input_schema: { type: 'object' } }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: '<system-reminder>\nnoise\n</system-reminder>' }] },
      { role: 'system', content: `# Environment\n - Primary working directory: ${CWD}\n - Platform: linux` },
      ...messages,
    ],
  };
}
const user = (text: string) => ({
  role: 'user',
  content: [
    { type: 'text', text: '<system-reminder>x</system-reminder>' },
    { type: 'text', text },
  ],
});
const assistant = (text: string) => ({ role: 'assistant', content: [{ type: 'text', text }] });
const toolResult = (content: string) => ({
  role: 'user',
  content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content }],
});

type ApiResponse = Omit<Response, 'json'> & { json(): Promise<any> };

async function post(server: ModelServer, body: unknown, path = '/v1/messages?beta=true'): Promise<ApiResponse> {
  return fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'test' },
    body: JSON.stringify(body),
  });
}

async function sse(res: ApiResponse): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed(await res.text());
  return events;
}
const data = (events: EventSourceMessage[]) => events.map((e) => JSON.parse(e.data));

describe('model server over HTTP', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await ModelServer.start();
  });
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  it('streams a text answer as Messages API events with realistic usage', async () => {
    server.script({ match: 'hello', steps: [{ text: ['Hel', 'lo ', 'world'] }] });
    const res = await post(server, mainBody([user('say hello')]));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await sse(res);
    expect(events.map((e) => e.event).filter((e) => e !== 'ping')).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const [start, ...rest] = data(events);
    expect(start.message).toMatchObject({ role: 'assistant', model: 'claude-opus-5-5', content: [] });
    expect(start.message.id).toMatch(/^msg_/);
    expect(start.message.usage.input_tokens).toBeGreaterThan(10);
    const deltas = rest.filter((d) => d.type === 'content_block_delta').map((d) => d.delta);
    expect(deltas).toEqual([
      { type: 'text_delta', text: 'Hel' },
      { type: 'text_delta', text: 'lo ' },
      { type: 'text_delta', text: 'world' },
    ]);
    const end = rest.find((d) => d.type === 'message_delta');
    expect(end.delta.stop_reason).toBe('end_turn');
    expect(end.usage.output_tokens).toBeGreaterThan(0);
    expect(server.mainRequests()).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ kind: 'main', path: '/v1/messages', prompt: 'say hello', step: 0 });
  });

  it('streams tool calls with {{cwd}} replaced, chosen by the step of the turn', async () => {
    server.script({
      match: /^make (\w+)$/,
      steps: [
        { text: 'Writing.', tool: { name: 'Write', input: { file_path: '{{cwd}}/a.txt', content: 'A' } } },
        { text: 'Second' },
      ],
    });
    const events = data(await sse(await post(server, mainBody([user('make it')]))));
    const starts = events.filter((e) => e.type === 'content_block_start').map((e) => e.content_block);
    expect(starts[0]).toEqual({ type: 'text', text: '' });
    expect(starts[1]).toMatchObject({ type: 'tool_use', name: 'Write', input: {} });
    expect(starts[1].id).toMatch(/^toolu_/);
    const json = events.filter((e) => e.delta?.type === 'input_json_delta').map((e) => e.delta.partial_json as string);
    expect(json.length).toBeGreaterThan(2);
    expect(JSON.parse(json.join(''))).toEqual({ file_path: `${CWD}/a.txt`, content: 'A' });
    expect(events.find((e) => e.type === 'message_delta').delta.stop_reason).toBe('tool_use');

    const step1 = data(
      await sse(await post(server, mainBody([user('make it'), assistant('Writing.'), toolResult('ok')]))),
    );
    expect(
      step1
        .filter((e) => e.delta?.type === 'text_delta')
        .map((e) => e.delta.text)
        .join(''),
    ).toBe('Second');
    const past = data(
      await sse(
        await post(
          server,
          mainBody([user('make it'), assistant('a'), toolResult('ok'), assistant('b'), toolResult('ok')]),
        ),
      ),
    );
    expect(
      past
        .filter((e) => e.delta?.type === 'text_delta')
        .map((e) => e.delta.text)
        .join(''),
    ).toBe('Done.');
    expect(server.mainRequests().map((r) => r.step)).toEqual([0, 1, 2]);
  });

  it('sends several tool calls in one message', async () => {
    server.script({
      match: 'two',
      steps: [
        {
          tools: [
            { name: 'Read', input: { file_path: '/a' } },
            { name: 'Read', input: { file_path: '/b' } },
          ],
        },
      ],
    });
    const res = await post(server, mainBody([user('two reads')], false));
    const message = await res.json();
    expect(message).toMatchObject({
      type: 'message',
      stop_reason: 'tool_use',
      content: [
        { name: 'Read', input: { file_path: '/a' } },
        { name: 'Read', input: { file_path: '/b' } },
      ],
    });
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('echoes unmatched prompts, and a new prompt starts a new turn at step 0', async () => {
    const body = mainBody([user('first'), assistant('echo: first'), user('second one')], false);
    const message = await (await post(server, body)).json();
    expect(message.content).toEqual([{ type: 'text', text: 'echo: second one' }]);
    expect(server.requests[0]).toMatchObject({ step: 0, prompt: 'second one' });
    expect(promptTexts(server.requests[0]!)).toEqual(['first', 'second one']);
  });

  it('uses a rule only `times` times, counting turn starts; later steps of its turn still follow it', async () => {
    server.script({
      match: 'go',
      times: 1,
      steps: [{ tool: { name: 'Bash', input: { command: 'true' } } }, { text: 'scripted end' }],
    });
    const first = await (await post(server, mainBody([user('go')], false))).json();
    expect(first.stop_reason).toBe('tool_use');
    const step1 = await (await post(server, mainBody([user('go'), assistant('x'), toolResult('ok')], false))).json();
    expect(step1.content[0].text).toBe('scripted end');
    const again = await (
      await post(server, mainBody([user('go'), assistant('x'), toolResult('ok'), assistant('y'), user('go')], false))
    ).json();
    expect(again.content[0].text).toBe('echo: go');
  });

  it('lets a retry of a failed call move on to the next rule', async () => {
    server.script({ match: 'flaky', times: 1, steps: [{ error: { status: 500 } }] });
    server.script({ match: 'flaky', steps: [{ text: 'recovered' }] });
    expect((await post(server, mainBody([user('flaky')], false))).status).toBe(500);
    expect((await (await post(server, mainBody([user('flaky')], false))).json()).content[0].text).toBe('recovered');
  });

  it('answers errors in the API error shape, with retry-after for 429 and 529', async () => {
    server.script({ match: 'busy', steps: [{ error: { status: 529 } }] });
    server.script({ match: 'limit', steps: [{ error: { status: 429, message: 'slow down', retryAfterSeconds: 3 } }] });
    server.script({
      match: 'teapot',
      steps: [{ error: { status: 418, type: 'teapot_error', message: 'short and stout' } }],
    });
    const busy = await post(server, mainBody([user('busy')]));
    expect(busy.status).toBe(529);
    expect(busy.headers.get('retry-after')).toBe('0');
    expect(await busy.json()).toEqual({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Scripted 529 error' },
    });
    const limit = await post(server, mainBody([user('limit')]));
    expect(limit.status).toBe(429);
    expect(limit.headers.get('retry-after')).toBe('3');
    expect(await limit.json()).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });
    const teapot = await post(server, mainBody([user('teapot')]));
    expect(teapot.status).toBe(418);
    expect(teapot.headers.get('retry-after')).toBeNull();
    expect(await teapot.json()).toEqual({ type: 'error', error: { type: 'teapot_error', message: 'short and stout' } });
  });

  it('cuts a stream mid-event', async () => {
    server.script({ match: 'cut', steps: [{ cut: true }] });
    const res = await post(server, mainBody([user('cut')]));
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('streams slowly with chunkDelayMs', async () => {
    server.script({ match: 'slow', steps: [{ text: ['a', 'b', 'c'], chunkDelayMs: 150 }] });
    const started = Date.now();
    await (await post(server, mainBody([user('slow')]))).text();
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('answers side requests with short text and never lets them consume a script', async () => {
    server.script({ match: 'title me', times: 1, steps: [{ text: 'main answer' }] });
    const titleBody = {
      model: 'claude-opus-5-5',
      max_tokens: 32000,
      stream: false,
      system: [{ type: 'text', text: 'You are naming a coding session.' }],
      tools: [],
      output_config: {
        format: {
          type: 'json_schema',
          schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] },
        },
      },
      messages: [{ role: 'user', content: [{ type: 'text', text: '<session>\ntitle me\n</session>' }] }],
    };
    const title = await (await post(server, titleBody)).json();
    expect(JSON.parse(title.content[0].text)).toEqual({ title: 'Scripted session' });
    const plain = await (await post(server, { ...titleBody, output_config: undefined, system: 'Summarize.' })).json();
    expect(plain.content).toEqual([{ type: 'text', text: 'Scripted session' }]);
    const main = await (await post(server, mainBody([user('title me')], false))).json();
    expect(main.content[0].text).toBe('main answer');
    expect(server.requests.map((r) => r.kind)).toEqual(['aux', 'aux', 'main']);
  });

  it('trusts the request-class header when the CLI sends one', () => {
    const body = mainBody([user('x')]);
    expect(classify('POST', '/v1/messages', body)).toBe('main');
    expect(classify('POST', '/v1/messages', body, { 'x-claude-code-request-class': 'auxiliary' })).toBe('aux');
    expect(classify('POST', '/v1/messages', body, { 'x-claude-code-request-class': 'compaction' })).toBe('aux');
    expect(classify('POST', '/v1/messages', {}, { 'x-claude-code-request-class': 'subagent' })).toBe('main');
    expect(classify('GET', '/v1/models', undefined)).toBe('other');
  });

  it('answers count_tokens, /api/hello and unknown paths', async () => {
    const count = await post(server, mainBody([user('x')]), '/v1/messages/count_tokens?beta=true');
    expect((await count.json()).input_tokens).toBeGreaterThan(0);
    expect((await fetch(server.url + '/api/hello', { method: 'HEAD' })).status).toBe(200);
    const missing = await fetch(server.url + '/v1/nothing');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    expect(server.requests.map((r) => r.kind)).toEqual(['other', 'other', 'other']);
    expect(server.mainRequests()).toHaveLength(0);
  });

  it('lets tests wait for requests, past or future', async () => {
    const next = server.nextRequest((r) => r.prompt === 'later');
    await post(server, mainBody([user('sooner')]), '/v1/messages').then((r) => r.text());
    await post(server, mainBody([user('later')]), '/v1/messages').then((r) => r.text());
    expect((await next).prompt).toBe('later');
    expect((await server.waitFor((r) => r.prompt === 'sooner')).step).toBe(0);
    const seen: string[] = [];
    const off = server.onRequest((r) => seen.push(r.path));
    await fetch(server.url + '/api/hello');
    off();
    await fetch(server.url + '/api/hello');
    expect(seen).toEqual(['/api/hello']);
    await expect(server.nextRequest(() => true, 50)).rejects.toThrow(/no matching request/);
  });

  it('holds a hung request until the server closes', async () => {
    const own = await ModelServer.start();
    own.script({ match: 'wait', steps: [{ hang: true }] });
    const res = await post(own, mainBody([user('wait')]));
    expect(res.status).toBe(200);
    const body = res.text();
    await own.waitFor((r) => r.prompt === 'wait');
    await own.close();
    await expect(body).rejects.toThrow();
  });
});

interface CliRun {
  code: number | null;
  messages: any[];
  results: any[];
  stderr: string;
  ms: number;
}

/** Run the real CLI in print mode; several prompts are fed one turn at a time through stream-json input. */
function runCli(cli: CliEnv, prompts: string[], extraArgs: string[] = []): Promise<CliRun> {
  const args = [
    '--output-format',
    'stream-json',
    '--verbose',
    '--permission-mode',
    'acceptEdits',
    '--allowedTools',
    'Bash,Write,Read,Edit',
    ...extraArgs,
  ];
  const multi = prompts.length > 1;
  if (multi) args.unshift('-p', '--input-format', 'stream-json');
  else args.unshift('-p', prompts[0] ?? '');
  const started = Date.now();
  const child = spawn(CLI_PATH, args, {
    cwd: cli.workDir,
    env: cli.env,
    stdio: [multi ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const pending = [...prompts];
  const sendNext = () => {
    const text = pending.shift();
    if (text === undefined) return child.stdin?.end();
    child.stdin?.write(
      JSON.stringify({
        type: 'user',
        message: { role: 'user', content: text },
        parent_tool_use_id: null,
        session_id: '',
      }) + '\n',
    );
  };
  if (multi) sendNext();
  const run: CliRun = { code: null, messages: [], results: [], stderr: '', ms: 0 };
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      const message = JSON.parse(line);
      run.messages.push(message);
      if (message.type === 'result') {
        run.results.push(message);
        if (multi) sendNext();
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (run.stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ ...run, code, ms: Date.now() - started }));
  });
}

/** Tool results the CLI sent back to the model, across all main requests, by tool_use_id. */
function toolResults(requests: LoggedRequest[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of requests) {
    for (const m of r.body.messages) {
      if (m.role !== 'user' || !Array.isArray(m.content)) continue;
      for (const b of m.content) {
        if (b.type !== 'tool_result') continue;
        const text = typeof b.content === 'string' ? b.content : b.content.map((c: any) => c.text ?? '').join('');
        out.set(b.tool_use_id, text);
      }
    }
  }
  return out;
}

describe('the real Claude Code CLI against the model server', () => {
  let server: ModelServer;
  let cli: CliEnv;
  beforeAll(async () => {
    server = await ModelServer.start();
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.reset();
    cli = makeCliEnv(server.url);
  });
  afterEach(async () => {
    await waitForNoCliProcesses({ configDir: cli.configDir }, 10_000);
    cli.cleanup();
  });

  it('runs Write, Read, Edit and Bash in the working directory and feeds their results back', async () => {
    server.script({
      match: 'build the file',
      steps: [
        {
          text: 'Creating it.',
          tool: { name: 'Write', input: { file_path: '{{cwd}}/notes.txt', content: 'alpha\nbeta\n' } },
        },
        { tool: { name: 'Read', input: { file_path: '{{cwd}}/notes.txt' } } },
        { tool: { name: 'Edit', input: { file_path: '{{cwd}}/notes.txt', old_string: 'beta', new_string: 'gamma' } } },
        {
          tool: {
            name: 'Bash',
            input: { command: 'echo hi-from-bash && cat notes.txt', description: 'Print a greeting and the notes' },
          },
        },
        { text: ['All ', 'done ', 'here.'] },
      ],
    });
    const run = await runCli(cli, ['please build the file']);
    expect(run.code, run.stderr).toBe(0);
    expect(readFileSync(`${cli.workDir}/notes.txt`, 'utf8')).toBe('alpha\ngamma\n');

    const result = run.results[0];
    expect(result).toMatchObject({ subtype: 'success', is_error: false, result: 'All done here.', num_turns: 5 });
    expect(result.total_cost_usd).toBeGreaterThan(0);

    const main = server.mainRequests();
    expect(main.map((r) => r.step)).toEqual([0, 1, 2, 3, 4]);
    const calls = run.messages
      .flatMap((m) => (m.type === 'assistant' ? m.message.content : []))
      .filter((b: any) => b.type === 'tool_use');
    expect(calls.map((c: any) => c.name)).toEqual(['Write', 'Read', 'Edit', 'Bash']);
    const results = toolResults(main);
    const [write, read, edit, bash] = calls.map((c: any) => results.get(c.id) ?? '');
    expect(write).toContain('notes.txt');
    expect(read).toMatch(/alpha[\s\S]*beta/);
    expect(edit).toContain('notes.txt');
    expect(bash).toBe('hi-from-bash\nalpha\ngamma');
    expect(server.requests.filter((r) => r.kind !== 'main')).toEqual([]);
  });

  it('keeps turns apart: echo for unmatched prompts, chunked slow text, earlier turns visible', async () => {
    server.script({ match: 'stream please', steps: [{ text: ['one ', 'two ', 'three'], chunkDelayMs: 100 }] });
    const run = await runCli(cli, ['hello there', 'stream please'], ['--include-partial-messages']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.results.map((r) => r.result)).toEqual(['echo: hello there', 'one two three']);
    const deltas = run.messages
      .filter((m) => m.type === 'stream_event' && m.event.type === 'content_block_delta')
      .map((m) => m.event.delta.text);
    expect(deltas.slice(-3)).toEqual(['one ', 'two ', 'three']);
    expect(deltas.slice(0, -3).join('')).toBe('echo: hello there');
    const last = server.mainRequests().at(-1)!;
    expect(last).toMatchObject({ prompt: 'stream please', step: 0 });
    expect(promptTexts(last)).toEqual(['hello there', 'stream please']);
  });

  it('sends session-title side requests that never consume a script', async () => {
    // As under the SDK, with non-essential traffic allowed: the CLI asks for a session title beside the main call.
    const noisy = makeCliEnv(server.url, { CLAUDE_CODE_ENTRYPOINT: 'sdk-ts' });
    delete noisy.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC;
    try {
      server.script({ match: 'name this session', times: 1, steps: [{ text: 'scripted reply' }] });
      const run = await runCli(noisy, ['name this session']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.results[0].result).toBe('scripted reply');
      const aux = await server.waitFor((r) => r.kind === 'aux');
      expect(JSON.stringify(aux.body.messages)).toContain('name this session');
      expect(aux.headers['x-claude-code-request-class']).toBe('auxiliary');
      expect(classify('POST', aux.path, aux.body)).toBe('aux'); // the body alone tells it apart too
      expect(server.mainRequests()[0]!.headers['x-claude-code-request-class']).toBe('main');
      expect(server.mainRequests()).toHaveLength(1);
      await waitForNoCliProcesses({ configDir: noisy.configDir }, 10_000);
    } finally {
      noisy.cleanup();
    }
  });

  it.each([
    { status: 500, shown: 'Scripted 500 error' },
    { status: 529, shown: 'Scripted 529 error' },
    { status: 429, shown: 'Scripted 429 error' },
  ])('ends quickly with an error result on a $status', async ({ status, shown }) => {
    server.script({ match: 'fail', steps: [{ error: { status } }] });
    const run = await runCli(cli, ['fail please']);
    expect(run.code).not.toBe(0);
    expect(run.results[0]).toMatchObject({ is_error: true, api_error_status: status });
    expect(run.results[0].result).toContain(shown);
    expect(server.mainRequests().length).toBe(2); // the first try and CLAUDE_CODE_MAX_RETRIES=1 retry
    expect(run.ms).toBeLessThan(10_000);
  });

  it('leaves no CLI process behind when a hung request ends with the server', async () => {
    const own = await ModelServer.start();
    const hungCli = makeCliEnv(own.url);
    try {
      own.script({ match: 'wait', steps: [{ hang: true }] });
      const running = runCli(hungCli, ['wait forever']);
      await own.waitFor((r) => r.prompt === 'wait forever');
      expect(cliProcesses({ configDir: hungCli.configDir })).toHaveLength(1);
      expect(cliProcesses({ configDir: cli.configDir })).toHaveLength(0);
      await own.close();
      const run = await running;
      expect(run.results[0]?.is_error).toBe(true);
      await waitForNoCliProcesses({ configDir: hungCli.configDir }, 10_000);
    } finally {
      hungCli.cleanup();
    }
  });
});
