// A loopback cluster of two nodes: compatible (/v1) requests and MCP chat calls for a session one node runs, sent to the other, run on the owner; a loop and a gone owner answer 503 in the caller's own error shape.
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/store/redis.js';
import { startLoopbackCluster, type ClusterNode, type LoopbackCluster } from '../support/loopback-cluster.js';
import { promptTexts, type ModelServer } from '../support/model-server.js';
import { needs, REDIS_TEST_URL } from '../support/needs.js';

const missing =
  (await needs('the compat forwarding cluster tests', 'postgresql')) ??
  (await needs('the compat forwarding cluster tests', 'redis'));

const KEY = 'compat-fwd-key-12345678';

describe.skipIf(missing)('compatible endpoints and MCP across two nodes', { timeout: 180_000 }, () => {
  let cluster: LoopbackCluster;
  let model: ModelServer;
  let prefix: string;
  let a: ClusterNode;
  let b: ClusterNode;
  const clients: Client[] = [];

  const live = (node: ClusterNode) => cluster.live(node);
  const remove = async (name: string) =>
    expect((await a.api(`/api/v1/sessions/${name}`, { method: 'DELETE' })).status).toBe(204);
  const openai = (node: ClusterNode, headers: Record<string, string> = {}) =>
    new OpenAI({ apiKey: KEY, baseURL: `${node.proc.url}/v1`, maxRetries: 0, defaultHeaders: headers });
  const anthropic = (node: ClusterNode, headers: Record<string, string> = {}) =>
    new Anthropic({ apiKey: KEY, baseURL: node.proc.url, maxRetries: 0, defaultHeaders: headers });
  const lastPrompt = (text: string) => model.mainRequests().findLast((r) => r.prompt?.includes(text))!;
  const mcp = async (node: ClusterNode): Promise<Client> => {
    const transport = new StreamableHTTPClientTransport(new URL(`${node.proc.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${KEY}` } },
    });
    const client = new Client({ name: 'compat-forward-test', version: '1.0.0' });
    await client.connect(transport);
    clients.push(client);
    return client;
  };
  const sessionId = async (name: string) => (await (await a.api(`/api/v1/sessions/${name}`)).json()).data.id as string;
  /** Runs `fn` while Redis says node `owner`, announced at `url` (or not at all), holds the session. */
  const ownedBy = async (name: string, owner: string, url: string | undefined, fn: () => Promise<void>) =>
    cluster.ownedBy(await sessionId(name), owner, url, fn);
  const compatPost = (node: ClusterNode, path: string, body: unknown, headers: Record<string, string> = {}) =>
    node.api(path, { method: 'POST', json: body, headers });

  beforeAll(async () => {
    cluster = await startLoopbackCluster('compat-fwd', KEY, { SESSION_LEASE_SECONDS: '5', SSE_HEARTBEAT_SECONDS: '1' });
    ({ model, prefix } = cluster);
    a = await cluster.startNode('node-a');
    b = await cluster.startNode('node-b');
  });

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await cluster?.close();
  });

  it('a named compat session served on A answers through B, whole and streamed, in A’s one process', async () => {
    const named = { 'x-session-name': 'cx-named' };
    const first = await openai(a, named).chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'cx first on A' }],
    });
    expect(first.choices[0]!.message.content).toBe('echo: cx first on A');

    // Whole, through B (OpenAI form): the turn ran on A, whose process saw the first turn.
    const { data, response } = await openai(b, named)
      .chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: 'cx whole via B' }] })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('echo: cx whole via B');
    expect(response.headers.get('x-session-name')).toBe('cx-named');
    expect(promptTexts(lastPrompt('cx whole via B'))).toContain('cx first on A');

    // Streamed, through B (OpenAI chunks), as the owner writes them.
    model.script({ match: 'cx streamed', steps: [{ text: ['one ', 'two ', 'three'], chunkDelayMs: 150 }] });
    const stream = await openai(b, named).chat.completions.create({
      model: 'sonnet',
      stream: true,
      messages: [{ role: 'user', content: 'cx streamed via B' }],
    });
    let text = '';
    const arrivals: number[] = [];
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content ?? '';
      if (piece) arrivals.push(Date.now());
      text += piece;
    }
    expect(text).toBe('one two three');
    // Passed through as written, not buffered: the pieces arrived as far apart as the model sent them.
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(200);
    expect(promptTexts(lastPrompt('cx streamed via B'))).toContain('cx whole via B');

    // Streamed in the Anthropic form too.
    const events: string[] = [];
    const messages = anthropic(b, named).messages.stream({
      model: 'sonnet',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'cx anthropic via B' }],
    });
    messages.on('streamEvent', (event) => events.push(event.type));
    const final = await messages.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: 'echo: cx anthropic via B' });
    expect(events).toEqual(expect.arrayContaining(['message_start', 'content_block_delta', 'message_stop']));
    expect(promptTexts(lastPrompt('cx anthropic via B'))).toContain('cx first on A');

    expect(await live(a)).toBe(1);
    expect(await live(b)).toBe(0);
    const history = (await (await b.api('/api/v1/sessions/cx-named/history')).json()).data as Array<{ role: string }>;
    expect(history.filter((m) => m.role === 'user')).toHaveLength(4);
    await remove('cx-named');
  });

  it('an implicit compat conversation begun on A is continued through B', async () => {
    const first = await anthropic(a).messages.create({
      model: 'sonnet',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'cx implicit start' }],
    });
    const ext = (first as unknown as { x_claude_code: { session: string } }).x_claude_code;
    const answer = (first.content[0] as { text: string }).text;
    const next = await anthropic(b).messages.create({
      model: 'sonnet',
      max_tokens: 256,
      messages: [
        { role: 'user', content: 'cx implicit start' },
        { role: 'assistant', content: answer },
        { role: 'user', content: 'cx implicit via B' },
      ],
    });
    expect((next as unknown as { x_claude_code: unknown }).x_claude_code).toMatchObject({
      session: ext.session,
      session_continued: true,
      session_created: false,
    });
    // Only the new message was sent, to the process that holds the conversation.
    const sent = lastPrompt('cx implicit via B');
    expect(sent.prompt).toBe('cx implicit via B');
    expect(promptTexts(sent)).toContain('cx implicit start');
    expect(await live(a)).toBe(1);
    expect(await live(b)).toBe(0);
    await remove(ext.session);
  });

  it('the MCP chat tool through B runs the turn on A, as the caller', async () => {
    expect((await a.api('/api/v1/sessions', { method: 'POST', json: { name: 'cx-mcp' } })).status).toBe(201);
    expect(
      (await a.api('/api/v1/sessions/cx-mcp/chat', { method: 'POST', json: { message: 'cx mcp first on A' } })).status,
    ).toBe(200);
    const client = await mcp(b);
    const result = (await client.callTool({
      name: 'chat',
      arguments: { name: 'cx-mcp', message: 'cx mcp via B' },
    })) as CallToolResult;
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      content: 'echo: cx mcp via B',
      tools_used: [],
      result: { status: 'ok', content: 'echo: cx mcp via B' },
    });
    expect(JSON.parse((result.content[0] as { text: string }).text)).toMatchObject({ content: 'echo: cx mcp via B' });
    expect(promptTexts(lastPrompt('cx mcp via B'))).toContain('cx mcp first on A');
    // A client that asks for progress hears the heartbeat while the turn runs on A, and the turn's events.
    model.script({ match: 'cx mcp slow', steps: [{ text: ['slow ', 'answer'], chunkDelayMs: 1500 }] });
    const progress: string[] = [];
    const slow = (await client.callTool(
      { name: 'chat', arguments: { name: 'cx-mcp', message: 'cx mcp slow' } },
      undefined,
      {
        onprogress: (p) => progress.push(p.message ?? ''),
        resetTimeoutOnProgress: true,
      },
    )) as CallToolResult;
    expect(slow.structuredContent).toMatchObject({ content: 'slow answer' });
    expect(progress).toContain('working');
    // The owner's events reach the caller as progress too (the remote turn is followed through its event stream).
    expect(progress).toContain('slow ');
    expect(await live(a)).toBe(1);
    expect(await live(b)).toBe(0);
    // The owner's refusal comes back as the tool's error, its problem document kept.
    const refused = (await client.callTool({
      name: 'chat',
      arguments: { name: 'cx-mcp', message: 'cx mcp refused', permission_mode: 'bypassPermissions' },
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent).toMatchObject({
      problem: { status: 422, type: '/problems/validation-failed', errors: [{ pointer: '/permission_mode' }] },
    });
    await remove('cx-mcp');
  });

  it('a compat request already forwarded once is not forwarded again: 503 forwarding-loop in the wire shape', async () => {
    const named = { 'x-session-name': 'cx-loop' };
    await openai(a, named).chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'cx loop owned by A' }],
    });
    const redis = await connectRedis(REDIS_TEST_URL);
    const token = (await redis.get(`${prefix}cluster:hop-token`))!;
    redis.disconnect();
    const res = await compatPost(
      b,
      '/v1/chat/completions',
      { model: 'sonnet', messages: [{ role: 'user', content: 'cx looped' }] },
      { ...named, 'x-cluster-hop': token },
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'forwarding_loop' } });
    expect(model.mainRequests().some((r) => r.prompt === 'cx looped')).toBe(false);
    await remove('cx-loop');
  });

  it('an owner that is gone or does not answer: 503 with Retry-After in the wire shape, and the conversation kept', async () => {
    const first = await openai(a).chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'cx gone start' }],
    });
    const session = (first as unknown as { x_claude_code: { session: string } }).x_claude_code.session;
    const history = [
      { role: 'user', content: 'cx gone start' },
      { role: 'assistant', content: first.choices[0]!.message.content },
      { role: 'user', content: 'cx gone next' },
    ];
    // Announced at an address nothing listens on: it does not answer the forwarded request.
    await ownedBy(session, 'node-dead', 'http://127.0.0.1:9', async () => {
      const res = await compatPost(b, '/v1/chat/completions', { model: 'sonnet', messages: history });
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await res.json()).toMatchObject({ error: { type: 'server_error', code: 'owner_unavailable' } });
      const named = await compatPost(
        b,
        '/v1/messages',
        { model: 'sonnet', max_tokens: 64, messages: [{ role: 'user', content: 'cx gone named' }] },
        { 'x-session-name': session },
      );
      expect(named.status).toBe(503);
      expect(await named.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
      const viaMcp = (await (
        await mcp(b)
      ).callTool({ name: 'chat', arguments: { name: session, message: 'cx gone mcp dead' } })) as CallToolResult;
      expect(viaMcp.isError).toBe(true);
      expect(viaMcp.structuredContent).toMatchObject({
        problem: { status: 503, type: '/problems/owner-unavailable' },
      });
      expect((viaMcp.content[0] as { text: string }).text).toContain('node-dead');
      expect((viaMcp.structuredContent as { retry_after_seconds: number }).retry_after_seconds).toBeGreaterThanOrEqual(
        1,
      );
    });
    // No longer announced (it died): the same, without trying it.
    await ownedBy(session, 'node-gone', undefined, async () => {
      const res = await compatPost(b, '/v1/messages', { model: 'sonnet', max_tokens: 64, messages: history });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
      // The MCP chat tool says so as its error.
      const result = (await (
        await mcp(b)
      ).callTool({ name: 'chat', arguments: { name: session, message: 'cx gone mcp' } })) as CallToolResult;
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toMatchObject({
        problem: { status: 503, type: '/problems/owner-unavailable' },
      });
    });
    expect(model.mainRequests().some((r) => r.prompt?.startsWith('cx gone ') && r.prompt !== 'cx gone start')).toBe(
      false,
    );
    // The refused requests left the conversation as it was: it continues (on whichever node takes the free lease).
    const next = await openai(b).chat.completions.create({
      model: 'sonnet',
      messages: history as OpenAI.Chat.Completions.ChatCompletionMessageParam[],
    });
    expect((next as unknown as { x_claude_code: unknown }).x_claude_code).toMatchObject({
      session,
      session_continued: true,
    });
    await remove(session);
  });
});
