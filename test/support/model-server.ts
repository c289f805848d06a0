// Scripted Anthropic Messages API on 127.0.0.1 that the real Claude Code CLI talks to in tests and benchmarks.
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface ToolCall {
  name: string;
  /** Strings anywhere inside may contain `{{cwd}}`, replaced by the CLI's primary working directory. */
  input: Record<string, unknown>;
}

export type Step =
  | { text: string | string[]; chunkDelayMs?: number }
  | { tool: ToolCall; text?: string }
  | { tools: ToolCall[]; text?: string }
  | { error: { status: number; type?: string; message?: string; retryAfterSeconds?: number } }
  | { hang: true }
  /** Streams the start of an answer (this text), then sends nothing more and never ends: a model that stops mid-turn. */
  | { stall: string }
  /** Holds the request until `after` settles, then answers with this text: a model the test releases when it wants. */
  | { after: Promise<unknown>; text: string }
  | { cut: true };

export interface ScriptRule {
  /** A string matches when the prompt contains it; a RegExp is tested against the prompt. */
  match: string | RegExp;
  steps: Step[];
  /** How many model calls at step 0 (turn starts, and their retries) may use this rule; unlimited by default. */
  times?: number;
}

export type RequestKind = 'main' | 'aux' | 'other';

export interface LoggedRequest {
  kind: RequestKind;
  method: string;
  /** URL path without the query string. */
  path: string;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: any;
  headers: IncomingHttpHeaders;
  /** Date.now() when the body was fully received. */
  at: number;
  /** Main requests: the latest prompt text and the step index answered. */
  prompt?: string;
  step?: number;
  /** Main requests: the rule that answered, if any. */
  rule?: ScriptRule;
}

type Listener = (req: LoggedRequest) => void;
type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

const DEFAULT_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/** Rough token count, as the real API would report it: about four characters a token, at least one. */
export function tokensOf(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function textOf(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  return content.filter((b) => b?.type === 'text' && typeof b.text === 'string').map((b) => b.text as string);
}

function isReminder(text: string): boolean {
  return text.trimStart().startsWith('<system-reminder>');
}

/** The text of a user message if it is a real prompt (not only tool results or reminders), else undefined. */
function promptOf(message: any): string | undefined {
  if (message?.role !== 'user') return undefined;
  const content = message.content;
  if (Array.isArray(content) && content.some((b) => b?.type === 'tool_result')) return undefined;
  const texts = textOf(content).filter((t) => !isReminder(t));
  return texts.length > 0 ? texts.join('\n') : undefined;
}

/** The user prompt texts of a Messages API request body, in order. */
export function promptTexts(req: LoggedRequest | { body?: any }): string[] {
  const messages: unknown[] = Array.isArray(req.body?.messages) ? req.body.messages : [];
  return messages.map(promptOf).filter((t): t is string => t !== undefined);
}

/**
 * Index of the latest prompt message, its newest text block (after a failed turn the CLI sends the failed prompt and
 * the next one as two blocks of one message; the newest is what this turn asks) and the number of assistant messages after it.
 */
function turnPosition(messages: any[]): { index: number; prompt: string; step: number } {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (promptOf(messages[i]) === undefined) continue;
    const prompt = textOf(messages[i].content)
      .filter((t) => !isReminder(t))
      .at(-1)!;
    let step = 0;
    for (let j = i + 1; j < messages.length; j++) {
      // Consecutive assistant messages count once: they are one model answer split in the transcript.
      if (messages[j]?.role === 'assistant' && messages[j - 1]?.role !== 'assistant') step++;
    }
    return { index: i, prompt, step };
  }
  return { index: -1, prompt: '', step: 0 };
}

/** Every text the request carries: system prompt and message text blocks. */
function allTexts(body: any): string[] {
  const out = textOf(body?.system);
  for (const m of Array.isArray(body?.messages) ? body.messages : []) out.push(...textOf(m?.content));
  return out;
}

/** The working directory the CLI names in its prompt ("Primary working directory: …"); after a move the newest mention, "(was …)" dropped. */
export function cwdOf(body: any): string | undefined {
  let cwd: string | undefined;
  for (const text of allTexts(body)) {
    for (const m of text.matchAll(/Primary working directory: ([^\n]+)/g))
      cwd = m[1]!.replace(/ \(was .*\)$/, '').trim();
  }
  return cwd;
}

/** Request classes the CLI names in `x-claude-code-request-class` (sent with CLAUDE_CODE_GATEWAY_HINT_HEADERS=1). */
const AGENT_LOOP_CLASSES = new Set(['main', 'subagent', 'workflow']);

/**
 * Main-loop requests (the agent or a subagent running tools) versus side requests (session titles, summaries,
 * compaction, quota probes). The CLI's request-class header decides when present. Without it: main-loop
 * requests carry the agent's tools, or at least its environment section; side requests carry neither.
 */
export function classify(method: string, path: string, body: any, headers: IncomingHttpHeaders = {}): RequestKind {
  if (method !== 'POST' || path !== '/v1/messages') return 'other';
  const requestClass = headers['x-claude-code-request-class'];
  if (typeof requestClass === 'string') return AGENT_LOOP_CLASSES.has(requestClass) ? 'main' : 'aux';
  if (Array.isArray(body?.tools) && body.tools.length > 0) return 'main';
  if (body?.output_config?.format) return 'aux';
  return allTexts(body).some((t) => t.includes('Primary working directory:')) ? 'main' : 'aux';
}

function substitute(value: unknown, cwd: string): unknown {
  if (typeof value === 'string') return value.replaceAll('{{cwd}}', cwd);
  if (Array.isArray(value)) return value.map((v) => substitute(v, cwd));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, cwd)]));
  }
  return value;
}

/** Split a string into up to `parts` pieces, on spaces when possible. */
function chunks(text: string, parts = 3): string[] {
  if (text.length < parts * 2) return [text];
  const size = Math.ceil(text.length / parts);
  const out: string[] = [];
  let rest = text;
  while (rest.length > size) {
    const space = rest.lastIndexOf(' ', size);
    const cut = space > 0 ? space + 1 : size;
    out.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  out.push(rest);
  return out;
}

/** A value matching a (simple) JSON schema, for side requests that ask for structured output. */
function sampleFor(schema: any, text: string): unknown {
  switch (schema?.type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, s]) => [k, sampleFor(s, text)]));
    case 'array':
      return [];
    case 'number':
    case 'integer':
      return 0;
    case 'boolean':
      return false;
    default:
      return Array.isArray(schema?.enum) ? schema.enum[0] : text;
  }
}

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ModelServer {
  readonly requests: LoggedRequest[] = [];
  /** Plain text answered to side requests (titles, summaries…). */
  auxText = 'Scripted session';
  private rules: { rule: ScriptRule; used: number }[] = [];
  /** Which rule answers which turn, so later steps keep following it even after `times` ran out. */
  private turns = new Map<string, ScriptRule | undefined>();
  private listeners = new Set<Listener>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<ModelServer> {
    let self: ModelServer | undefined;
    const server = createServer((req, res) => void self?.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    self = new ModelServer(server, `http://127.0.0.1:${port}`);
    return self;
  }

  /** Add a script rule; earlier rules win when several match. */
  script(rule: ScriptRule): this {
    this.rules.push({ rule, used: 0 });
    return this;
  }

  /** Forget all rules, turns and logged requests. */
  reset(): void {
    this.rules = [];
    this.turns.clear();
    this.requests.length = 0;
  }

  mainRequests(): LoggedRequest[] {
    return this.requests.filter((r) => r.kind === 'main');
  }

  auxRequests(): LoggedRequest[] {
    return this.requests.filter((r) => r.kind === 'aux');
  }

  /** What the model received as tool results in the turns whose prompt contains `match`: the last message of each follow-up request, as JSON lines. */
  toolResultsSeen(match: string): string {
    return this.mainRequests()
      .filter((r) => r.prompt?.includes(match) && (r.step ?? 0) > 0)
      .map((r) => JSON.stringify(r.body.messages.at(-1)))
      .join('\n');
  }

  /** Call `fn` for every request as soon as its body is in; returns an unsubscribe function. */
  onRequest(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The first request, already logged or still to come, that satisfies `predicate`. */
  waitFor(predicate: (r: LoggedRequest) => boolean, timeoutMs = 60_000): Promise<LoggedRequest> {
    const found = this.requests.find(predicate);
    return found ? Promise.resolve(found) : this.nextRequest(predicate, timeoutMs);
  }

  /** The next request still to come that satisfies `predicate` (any request by default). */
  nextRequest(predicate: (r: LoggedRequest) => boolean = () => true, timeoutMs = 60_000): Promise<LoggedRequest> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`model server: no matching request within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onRequest((r) => {
        if (!predicate(r)) return;
        clearTimeout(timer);
        off();
        resolve(r);
      });
    });
  }

  /** Stop listening and drop every open connection, hung requests included. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw: Buffer[] = [];
    for await (const chunk of req) raw.push(chunk as Buffer);
    const text = Buffer.concat(raw).toString('utf8');
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const entry: LoggedRequest = {
      kind: classify(method, path, body, req.headers),
      method,
      path,
      body,
      headers: req.headers,
      at: Date.now(),
    };

    let answer: Step | 'aux' | 'other';
    if (entry.kind === 'main') {
      const { rule, step, prompt } = this.pick(req.headers, body);
      Object.assign(entry, { prompt, step, rule });
      answer = rule ? (rule.steps[step] ?? { text: 'Done.' }) : { text: `echo: ${prompt}` };
    } else {
      answer = entry.kind;
    }
    this.requests.push(entry);
    for (const fn of [...this.listeners]) fn(entry);

    if (answer === 'other') {
      this.other(method, path, body, res);
      return;
    }
    if (answer === 'aux') {
      const format = body?.output_config?.format;
      const reply =
        format?.type === 'json_schema' ? JSON.stringify(sampleFor(format.schema, this.auxText)) : this.auxText;
      return this.reply(res, body, { text: reply });
    }
    return this.reply(res, body, answer);
  }

  /** The rule and step for a main request. Step-0 calls consume a use of the rule they match. */
  private pick(headers: IncomingHttpHeaders, body: any): { rule?: ScriptRule; step: number; prompt: string } {
    const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
    const { index, prompt, step } = turnPosition(messages);
    const session = String(headers['x-claude-code-session-id'] ?? '');
    const key = `${session}\u0000${index}\u0000${prompt}`;
    if (step > 0 && this.turns.has(key)) return { rule: this.turns.get(key), step, prompt };
    const matches = (r: ScriptRule) =>
      typeof r.match === 'string' ? prompt.includes(r.match) : prompt.search(r.match) >= 0;
    const slot = this.rules.find((s) => (s.rule.times === undefined || s.used < s.rule.times) && matches(s.rule));
    if (slot && step === 0) slot.used++;
    // A later step whose turn we never saw (e.g. a resumed session): follow any matching rule without consuming it.
    const rule = slot?.rule ?? (step > 0 ? this.rules.find((s) => matches(s.rule))?.rule : undefined);
    this.turns.set(key, rule);
    return { rule, step, prompt };
  }

  private other(method: string, path: string, body: any, res: ServerResponse): void {
    if (method === 'POST' && path === '/v1/messages/count_tokens') {
      this.json(res, 200, { input_tokens: tokensOf(JSON.stringify(body ?? {})) });
      return;
    }
    if ((method === 'HEAD' || method === 'GET') && path === '/api/hello') {
      this.json(res, 200, { message: 'hello' });
      return;
    }
    this.json(res, 404, { type: 'error', error: { type: 'not_found_error', message: `Not found: ${method} ${path}` } });
  }

  private json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    const data = JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json', 'request-id': id('req'), ...headers });
    res.end(res.req.method === 'HEAD' ? undefined : data);
  }

  /** The start of a streamed answer with `text`, then silence: the connection stays open until the client leaves. */
  private stall(res: ServerResponse, body: any, text: string): void {
    if (!body?.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      return;
    }
    const send = openEventStream(res);
    const model = typeof body.model === 'string' ? body.model : 'claude-sonnet-4-5';
    const usage = { input_tokens: 1, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    send('message_start', {
      message: { id: id('msg'), type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage },
    });
    send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    send('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
  }

  /** Send `partial` (after everything written before), then drop the connection. */
  private async cut(res: ServerResponse, partial: string): Promise<void> {
    await new Promise<void>((resolve) => res.write(partial, () => resolve()));
    res.destroy();
  }

  private async reply(res: ServerResponse, body: any, step: Step): Promise<void> {
    if ('error' in step) {
      const { status, message } = step.error;
      const type = step.error.type ?? DEFAULT_ERROR_TYPES[status] ?? 'api_error';
      const headers: Record<string, string> = {};
      if (status === 429 || status === 529) headers['retry-after'] = String(step.error.retryAfterSeconds ?? 0);
      this.json(
        res,
        status,
        { type: 'error', error: { type, message: message ?? `Scripted ${status} error` } },
        headers,
      );
      return;
    }
    if ('hang' in step) {
      res.writeHead(200, { 'content-type': body?.stream ? 'text/event-stream' : 'application/json' });
      res.flushHeaders();
      return; // never answered: ends when the client leaves or the server closes
    }
    if ('stall' in step) {
      this.stall(res, body, step.stall);
      return;
    }
    if ('after' in step) {
      await step.after.catch(() => undefined);
      return this.reply(res, body, { text: step.text });
    }
    const cwd = cwdOf(body) ?? process.cwd();
    const blocks: Block[] = [];
    let textParts: string[] = [];
    let delay = 0;
    if ('cut' in step) textParts = ['This answer is cut ', 'short'];
    if ('text' in step && step.text !== undefined) {
      textParts = Array.isArray(step.text) ? step.text : chunks(step.text);
      if ('chunkDelayMs' in step) delay = step.chunkDelayMs ?? 0;
    }
    if (textParts.length > 0) blocks.push({ type: 'text', text: textParts.join('') });
    const calls = 'tool' in step ? [step.tool] : 'tools' in step ? step.tools : [];
    for (const call of calls)
      blocks.push({ type: 'tool_use', id: id('toolu'), name: call.name, input: substitute(call.input, cwd) });

    const model = typeof body?.model === 'string' ? body.model : 'claude-sonnet-4-5';
    const inputTokens = tokensOf(
      JSON.stringify({ system: body?.system, messages: body?.messages, tools: body?.tools }),
    );
    const outputTokens = tokensOf(
      blocks.map((b) => (b.type === 'text' ? b.text : b.name + JSON.stringify(b.input))).join(''),
    );
    const stopReason = calls.length > 0 ? 'tool_use' : 'end_turn';
    const message = { id: id('msg'), type: 'message', role: 'assistant', model, stop_sequence: null };
    const usage = { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

    if (!body?.stream) {
      if ('cut' in step) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return this.cut(res, '{"id":"msg_cut","type":"mess');
      }
      this.json(res, 200, {
        ...message,
        content: blocks,
        stop_reason: stopReason,
        usage: { ...usage, output_tokens: outputTokens },
      });
      return;
    }

    const send = openEventStream(res);
    send('message_start', {
      message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } },
    });
    send('ping', {});
    for (const [index, block] of blocks.entries()) {
      if (block.type === 'text') {
        send('content_block_start', { index, content_block: { type: 'text', text: '' } });
        for (const [n, part] of textParts.entries()) {
          if (n > 0 && delay > 0) await sleep(delay);
          if (res.destroyed) return;
          if ('cut' in step && n > 0) {
            // Half an event, then the connection drops.
            return this.cut(
              res,
              `event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"text_de`,
            );
          }
          send('content_block_delta', { index, delta: { type: 'text_delta', text: part } });
        }
      } else {
        send('content_block_start', {
          index,
          content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
        });
        send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
        for (const part of chunks(JSON.stringify(block.input), 4)) {
          send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: part } });
        }
      }
      send('content_block_stop', { index });
    }
    send('message_delta', {
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: outputTokens },
    });
    send('message_stop', {});
    res.end();
  }
}

/** Starts a streamed (SSE) answer on `res`; returns the function that sends one event. */
function openEventStream(res: ServerResponse): (type: string, data: object) => boolean {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': id('req'),
  });
  return (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
}
