// The MCP server through the SDK's own client, over Streamable HTTP (/mcp with an API key) and stdio (`cli.ts mcp`), on the real CLI.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stdioMcpTransport } from '../support/mcp-stdio.js';
import { useTestServer } from '../support/fixture.js';
import { waitForNoCliProcesses } from '../support/processes.js';
import { eventually } from '../support/wait.js';
import { KEYS } from '../support/server.js';
import { createSession } from '../support/sessions.js';

const textOf = (contents: Array<{ uri: string } & ({ text: string } | { blob: string })>) =>
  JSON.parse((contents[0] as { text: string }).text);

const TOOLS = [
  'chat',
  'create_session',
  'delete_session',
  'get_history',
  'get_session',
  'list_files',
  'list_sessions',
  'read_file',
];

const ctx = useTestServer();
const clients: Client[] = [];

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
});

async function httpClient(key: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${ctx.t.url}/mcp`), {
    requestInit: { headers: { 'x-api-key': key } },
  });
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The structured answer of a tool call that must have worked. */
async function ok(client: Client, name: string, args: Record<string, unknown>): Promise<any> {
  const result = await call(client, name, args);
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  return result.structuredContent;
}

/** The problem document of a tool call that must have been refused. */
async function refused(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<{ status: number; type: string; detail: string }> {
  const result = await call(client, name, args);
  expect(result.isError).toBe(true);
  return (result.structuredContent as { problem: { status: number; type: string; detail: string } }).problem;
}

/** Scripts a turn that writes `file` in the session's working directory. */
function scriptWrite(marker: string, file: string, content: string): void {
  ctx.model.script({
    match: marker,
    steps: [{ tool: { name: 'Write', input: { file_path: `{{cwd}}/${file}`, content } } }, { text: `Wrote ${file}.` }],
  });
}

describe('MCP over Streamable HTTP', () => {
  it('refuses a call without an API key, or with a wrong one, with 401', async () => {
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    };
    for (const key of [null, 'not-a-valid-key-000']) {
      const res = await ctx.t.request('/mcp', {
        method: 'POST',
        key,
        json: init,
        headers: { accept: 'application/json, text/event-stream' },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    const transport = new StreamableHTTPClientTransport(new URL(`${ctx.t.url}/mcp`));
    await expect(new Client({ name: 'anon', version: '1' }).connect(transport)).rejects.toThrow();
  });

  it('answers HTTP-level mistakes with problem documents: wrong Accept (406), not JSON-RPC (400)', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const noAccept = await ctx.t.request('/mcp', { method: 'POST', json: init });
    expect(noAccept.status).toBe(406);
    expect(noAccept.headers.get('content-type')).toContain('application/problem+json');
    for (const body of [{ hello: 'world' }, [], [init, { jsonrpc: '1.0' }], 'ping']) {
      const res = await ctx.t.request('/mcp', {
        method: 'POST',
        json: body,
        headers: { accept: 'application/json, text/event-stream' },
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await res.json()).type).toBe('/problems/bad-jsonrpc');
    }
  });

  it('offers the session tools, and answers GET with 405 (stateless)', async () => {
    const client = await httpClient(KEYS[0]);
    const tools = (await client.listTools()).tools.map((x) => x.name).sort();
    expect(tools).toEqual(TOOLS);
    expect((await ctx.t.request('/mcp')).status).toBe(405);
  });

  it('creates a session, chats with the scripted model (a Write), and lists and reads the file it wrote', async () => {
    const client = await httpClient(KEYS[0]);
    const { session } = await ok(client, 'create_session', { name: 'mcp-alpha' });
    expect(session).toMatchObject({ name: 'mcp-alpha', status: 'pending', template: null });

    scriptWrite('mcp-write-http', 'from-mcp.txt', 'written over MCP\n');
    const progress: string[] = [];
    const answer = (await client.callTool(
      { name: 'chat', arguments: { name: 'mcp-alpha', message: 'please mcp-write-http' } },
      undefined,
      {
        onprogress: (p) => progress.push(String(p.message)),
        resetTimeoutOnProgress: true,
      },
    )) as CallToolResult;
    expect(answer.isError).toBeFalsy();
    // The text is the seed's JSON answer; the whole result is in structuredContent.
    expect(answer.content).toHaveLength(1);
    expect(JSON.parse((answer.content[0] as { text: string }).text)).toMatchObject({
      content: 'Wrote from-mcp.txt.',
      tools_used: ['Write'],
    });
    const { result } = answer.structuredContent as {
      result: { status: string; tools_used: Array<{ name: string }>; cost_usd: number };
    };
    expect(result.status).toBe('ok');
    expect(result.tools_used.map((x) => x.name)).toEqual(['Write']);
    expect(progress).toContain('tool_use Write');

    const listing = await ok(client, 'list_files', { name: 'mcp-alpha' });
    expect(listing.files).toEqual([
      expect.objectContaining({ name: 'from-mcp.txt', path: 'from-mcp.txt', type: 'file', size: 17 }),
    ]);
    expect(listing.pagination).toMatchObject({ total: 1, page: 1 });
    const read = await call(client, 'read_file', { name: 'mcp-alpha', path: 'from-mcp.txt' });
    expect(read.content).toEqual([{ type: 'text', text: 'written over MCP\n' }]);
    expect(read.structuredContent).toMatchObject({
      path: 'from-mcp.txt',
      size: 17,
      truncated: false,
      encoding: 'utf8',
    });

    // The same session through the REST API: the MCP call acted as this key's tenant.
    const rest = await (await ctx.t.request('/api/v1/sessions/mcp-alpha')).json();
    expect(readFileSync(join(rest.data.workspace, 'from-mcp.txt'), 'utf8')).toBe('written over MCP\n');
    expect(rest.data.totals.turns).toBe(1);

    const history = await ok(client, 'get_history', { name: 'mcp-alpha' });
    expect(history.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
    expect(history.messages[1].content).toBe('Wrote from-mcp.txt.');
    const { session: after } = await ok(client, 'get_session', { name: 'mcp-alpha' });
    expect(after).toMatchObject({ status: 'active', live: true });
    expect((await ok(client, 'list_sessions', {})).sessions.map((s: { name: string }) => s.name)).toContain(
      'mcp-alpha',
    );
  });

  it('reads files as base64 when they are not text, and refuses paths outside the workspace', async () => {
    const client = await httpClient(KEYS[0]);
    const rest = await (await ctx.t.request('/api/v1/sessions/mcp-alpha')).json();
    writeFileSync(join(rest.data.workspace, 'blob.bin'), Buffer.from([0, 1, 2, 255]));
    const bin = await call(client, 'read_file', { name: 'mcp-alpha', path: 'blob.bin' });
    expect(bin.structuredContent).toMatchObject({ encoding: 'base64', content: 'AAEC/w==', size: 4 });
    for (const path of ['../../etc/passwd', '/etc/passwd', 'a\\..\\..\\x']) {
      const problem = await refused(client, 'read_file', { name: 'mcp-alpha', path });
      expect(problem.status, path).toBe(422);
    }
    expect((await refused(client, 'read_file', { name: 'mcp-alpha', path: 'nope.txt' })).status).toBe(404);
    expect((await refused(client, 'list_files', { name: 'mcp-alpha', path: '../..' })).status).toBe(422);
  });

  it('keeps tenants apart: another key neither sees nor reaches the session', async () => {
    const other = await httpClient(KEYS[1]);
    const names = (await ok(other, 'list_sessions', {})).sessions.map((s: { name: string }) => s.name);
    expect(names).not.toContain('mcp-alpha');
    for (const [tool, args] of [
      ['get_session', { name: 'mcp-alpha' }],
      ['get_history', { name: 'mcp-alpha' }],
      ['list_files', { name: 'mcp-alpha' }],
      ['read_file', { name: 'mcp-alpha', path: 'from-mcp.txt' }],
      ['chat', { name: 'mcp-alpha', message: 'hello?' }],
      ['delete_session', { name: 'mcp-alpha' }],
    ] as const) {
      expect((await refused(other, tool, args)).status, tool).toBe(404);
    }
    const sessions = await other.readResource({ uri: 'claude-code-api://sessions' });
    expect(textOf(sessions.contents).sessions).toEqual([]);
    await expect(other.readResource({ uri: 'claude-code-api://sessions/mcp-alpha' })).rejects.toThrow();
    expect((await ctx.t.request('/api/v1/sessions/mcp-alpha')).status).toBe(200);
  });

  it('validates arguments and refuses an unknown template, creating nothing', async () => {
    const client = await httpClient(KEYS[0]);
    const bad = await call(client, 'create_session', { name: '../escape' });
    expect(bad.isError).toBe(true);
    const problem = await refused(client, 'create_session', { name: 'mcp-ghost', template: 'no-such-template' });
    expect(problem).toMatchObject({ status: 422, type: '/problems/unknown-template' });
    expect((await ctx.t.request('/api/v1/sessions/mcp-ghost')).status).toBe(404);
    const { session } = await ok(client, 'create_session', { name: 'mcp-reviewer', template: 'code-reviewer' });
    expect(session.template).toBe('code-reviewer');
  });

  it('exposes sessions and templates as resources and one prompt per template', async () => {
    const client = await httpClient(KEYS[0]);
    const uris = (await client.listResources()).resources.map((r) => r.uri);
    expect(uris).toEqual(
      expect.arrayContaining([
        'claude-code-api://sessions',
        'claude-code-api://templates',
        'claude-code-api://sessions/mcp-alpha',
        'claude-code-api://templates/security',
      ]),
    );
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate);
    expect(templates).toEqual(
      expect.arrayContaining(['claude-code-api://sessions/{name}', 'claude-code-api://templates/{name}']),
    );
    const one = await client.readResource({ uri: 'claude-code-api://sessions/mcp-alpha' });
    expect(textOf(one.contents).session.name).toBe('mcp-alpha');
    const reviewer = await client.readResource({ uri: 'claude-code-api://templates/code-reviewer' });
    expect(textOf(reviewer.contents).template).toMatchObject({
      name: 'code-reviewer',
      allowed_tools: ['Read', 'Glob', 'Grep'],
    });

    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    // Ten of the twelve templates: `refactor` and `debug` are the Python seed's prompts' names (tested below).
    expect(prompts).toHaveLength(14);
    expect(prompts).toEqual(expect.arrayContaining(['code-reviewer', 'security', 'architect']));
    const prompt = await client.getPrompt({ name: 'security', arguments: { task: 'audit the login flow' } });
    const text = (prompt.messages[0]!.content as { text: string }).text;
    expect(text).toContain('template "security"');
    expect(text).toContain('audit the login flow');
  });

  it("takes the Python seed's tool arguments ('' = not set) and answers its fields beside ours", async () => {
    const client = await httpClient(KEYS[0]);
    const created = await ok(client, 'create_session', {
      name: 'mcp-seed',
      template: 'test-writer',
      system_prompt: '',
      model: '',
      effort: '',
    });
    expect(created).toMatchObject({ name: 'mcp-seed', status: 'pending', effort: 'medium' });
    expect(created.working_dir).toBe(created.session.working_dir);
    expect(created.session).toMatchObject({ template: 'test-writer', options: {} });

    ctx.model.script({ match: 'mcp-seed-hello', steps: [{ text: 'Hello from the seed flow.' }] });
    const chat = await call(client, 'chat', { name: 'mcp-seed', message: 'mcp-seed-hello', effort: '', model: '' });
    expect(chat.isError).toBeFalsy();
    const answer = chat.structuredContent as any;
    expect(answer).toMatchObject({ content: 'Hello from the seed flow.', num_turns: 1, tools_used: [] });
    expect(answer.cost).toBe(answer.result.cost_usd);
    expect(answer.duration_ms).toBeGreaterThanOrEqual(0);
    // The text content is the seed's JSON answer, exactly its five fields (a seed client parses it).
    expect(chat.content).toHaveLength(1);
    const text = chat.content[0] as { type: string; text: string };
    expect(text.type).toBe('text');
    expect(JSON.parse(text.text)).toEqual({
      content: 'Hello from the seed flow.',
      cost: answer.cost,
      duration_ms: answer.duration_ms,
      num_turns: 1,
      tools_used: [],
    });

    const got = await ok(client, 'get_session', { name: 'mcp-seed' });
    expect(got).toMatchObject({ name: 'mcp-seed', status: 'active', effort: 'medium', total_turns: 1 });
    expect(got.total_cost).toBe(answer.cost);
    const history = await ok(client, 'get_history', { name: 'mcp-seed', limit: 20 });
    expect(history.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
    expect((await ok(client, 'list_files', { name: 'mcp-seed', path: '' })).files).toEqual([]);
    expect(await ok(client, 'delete_session', { name: 'mcp-seed' })).toEqual({ deleted: 'mcp-seed' });
    expect((await refused(client, 'get_session', { name: 'mcp-seed' })).status).toBe(404);
    // '' is "not set" only for the seed's optional strings: an empty name or message is still refused.
    expect((await call(client, 'create_session', { name: '' })).isError).toBe(true);
  });

  it("serves the Python seed's resources and prompts", async () => {
    const client = await httpClient(KEYS[0]);
    const sessions = textOf((await client.readResource({ uri: 'sessions://list' })).contents);
    expect(Array.isArray(sessions)).toBe(true);
    expect(sessions.map((s: { name: string }) => s.name)).toContain('mcp-alpha');
    expect(sessions[0]).toHaveProperty('total_cost');
    const templates = textOf((await client.readResource({ uri: 'templates://list' })).contents);
    expect(Object.keys(templates)).toHaveLength(12);
    expect(templates['code-reviewer']).toMatchObject({ name: 'code-reviewer', effort: expect.any(String) });
    // Another key's list holds none of this key's sessions.
    const other = await httpClient(KEYS[1]);
    expect(textOf((await other.readResource({ uri: 'sessions://list' })).contents)).toEqual([]);

    const prompts = (await client.listPrompts()).prompts;
    const args = (name: string) => prompts.find((p) => p.name === name)?.arguments?.map((a) => [a.name, a.required]);
    for (const [name, required, optional] of [
      ['code_review', 'code', 'language'],
      ['refactor', 'code', 'goal'],
      ['write_tests', 'code', 'framework'],
      ['debug', 'error', 'context'],
    ])
      expect(args(name!), name).toEqual([
        [required, true],
        [optional, false],
      ]);
    const text = async (name: string, a: Record<string, string>) =>
      ((await client.getPrompt({ name, arguments: a })).messages[0]!.content as { text: string }).text;
    expect(await text('code_review', { code: 'x = 1' })).toContain('```python\nx = 1\n```');
    expect(await text('code_review', { code: 'let x', language: 'rust' })).toContain('```rust');
    expect(await text('refactor', { code: 'f()' })).toContain('improve readability');
    expect(await text('write_tests', { code: 'f()', framework: 'vitest' })).toContain('vitest');
    const debug = await text('debug', { error: 'KeyError: x', context: 'after the upgrade' });
    expect(debug).toContain('KeyError: x');
    expect(debug).toContain('after the upgrade');
  });

  it('interrupts the turn when the caller of chat goes away (CHAT_DISCONNECT=interrupt)', async () => {
    const client = await httpClient(KEYS[0]);
    await ok(client, 'create_session', { name: 'mcp-hang' });
    ctx.model.script({ match: 'mcp-hang-forever', steps: [{ hang: true }] });
    const abort = new AbortController();
    const call = {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'chat', arguments: { name: 'mcp-hang', message: 'mcp-hang-forever' } },
    };
    const pending = ctx.t.request('/mcp', {
      method: 'POST',
      json: call,
      headers: { accept: 'application/json, text/event-stream' },
      signal: abort.signal,
    });
    await ctx.model.waitFor((r) => r.prompt === 'mcp-hang-forever');
    abort.abort();
    await expect(pending.then((res) => res.text())).rejects.toThrow();
    const history = await eventually(
      async () => {
        const h = await ok(client, 'get_history', { name: 'mcp-hang' });
        return h.messages.length === 2 ? h : undefined;
      },
      30_000,
      'the interrupted turn in history',
    );
    expect(history.messages[1].status).toBe('interrupted');
    expect((await ok(client, 'get_session', { name: 'mcp-hang' })).session.busy).toBe(false);
  });

  it('deletes a session', async () => {
    const client = await httpClient(KEYS[0]);
    expect(await ok(client, 'delete_session', { name: 'mcp-reviewer', purge: true })).toEqual({
      deleted: 'mcp-reviewer',
    });
    expect((await ctx.t.request('/api/v1/sessions/mcp-reviewer')).status).toBe(404);
  });
});

describe('MCP over stdio (`claude-code-api mcp`)', () => {
  it('creates a session, chats (a Write) and lists the file, acting as the tenant of MCP_API_KEY, and leaves no process behind', async () => {
    // Its own Claude Code config dir, so its CLI processes can be told from the HTTP server's.
    const configDir = join(ctx.t.cli.dir, 'stdio-claude');
    mkdirSync(configDir);
    // A turn runs on the HTTP server meanwhile: the stdio server must not take it for a leftover of a dead run.
    await createSession(ctx.t, 'mcp-busy');
    ctx.model.script({ match: 'mcp-busy-hang', steps: [{ hang: true }] });
    const busy = ctx.t.request('/api/v1/sessions/mcp-busy/chat', {
      method: 'POST',
      json: { message: 'mcp-busy-hang' },
    });
    await ctx.model.waitFor((r) => r.prompt === 'mcp-busy-hang');
    const transport = stdioMcpTransport(ctx.t, {
      API_KEYS: KEYS.join(','),
      MCP_API_KEY: KEYS[1],
      CLAUDE_CONFIG_DIR: configDir,
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: 'mcp-stdio-test', version: '1.0.0' });
    try {
      await client.connect(transport);
      expect((await client.listTools()).tools.map((x) => x.name).sort()).toEqual(TOOLS);
      const { session } = await ok(client, 'create_session', { name: 'mcp-stdio' });
      expect(session.name).toBe('mcp-stdio');

      scriptWrite('mcp-write-stdio', 'from-stdio.txt', 'written over stdio\n');
      const answer = await call(client, 'chat', { name: 'mcp-stdio', message: 'please mcp-write-stdio' });
      expect(answer.isError, JSON.stringify(answer.content)).toBeFalsy();
      expect(JSON.parse((answer.content[0] as { text: string }).text)).toMatchObject({
        content: 'Wrote from-stdio.txt.',
        tools_used: ['Write'],
      });
      const listing = await ok(client, 'list_files', { name: 'mcp-stdio' });
      expect(listing.files.map((f: { name: string }) => f.name)).toEqual(['from-stdio.txt']);
      const read = await call(client, 'read_file', { name: 'mcp-stdio', path: 'from-stdio.txt' });
      expect(read.content).toEqual([{ type: 'text', text: 'written over stdio\n' }]);
      // Acting as KEYS[1]: the first key's sessions are not there.
      expect((await refused(client, 'get_session', { name: 'mcp-alpha' })).status).toBe(404);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- stderr of the stdio server ---\n${stderr}`, { cause: err });
    } finally {
      await client.close();
    }
    const history = await (await ctx.t.request('/api/v1/sessions/mcp-busy/history')).json();
    expect(history.data.map((m: { role: string }) => m.role)).toEqual(['user']);
    expect((await (await ctx.t.request('/api/v1/sessions/mcp-busy')).json()).data.busy).toBe(true);
    expect((await ctx.t.request('/api/v1/sessions/mcp-busy/interrupt', { method: 'POST' })).status).toBe(200);
    expect((await (await busy).json()).data.status).toBe('interrupted');
    // The same database: the session is the second key's over HTTP, and invisible to the first.
    expect((await ctx.t.request('/api/v1/sessions/mcp-stdio', { key: KEYS[1] })).status).toBe(200);
    expect((await ctx.t.request('/api/v1/sessions/mcp-stdio', { key: KEYS[0] })).status).toBe(404);
    // Closing stdin stopped the server and its Claude Code process (each session has its own config folder).
    const stdioSession = (await (await ctx.t.request('/api/v1/sessions/mcp-stdio', { key: KEYS[1] })).json()).data;
    await waitForNoCliProcesses({ configDir: join(ctx.t.dirs.data, 'session-config', stdioSession.id) });
  });

  it('refuses to start when keys are configured and MCP_API_KEY is missing or wrong', async () => {
    for (const [extra, message] of [
      [{}, 'Missing environment variable MCP_API_KEY'],
      [{ MCP_API_KEY: 'wrong-key-123456' }, 'Invalid environment variable MCP_API_KEY'],
    ] as const) {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', 'src/cli.ts', 'mcp'],
        cwd: process.cwd(),
        stderr: 'pipe',
        env: {
          ...ctx.t.cli.env,
          API_KEYS: KEYS.join(','),
          DATA_DIR: ctx.t.dirs.data,
          APPROVED_DIRECTORY: ctx.t.dirs.workspaces,
          LOG_LEVEL: 'silent',
          ...extra,
        },
      });
      let stderr = '';
      transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const client = new Client({ name: 'mcp-stdio-bad', version: '1.0.0' });
      await expect(client.connect(transport)).rejects.toThrow();
      await client.close().catch(() => undefined);
      expect(stderr).toContain(message);
    }
  });
});
