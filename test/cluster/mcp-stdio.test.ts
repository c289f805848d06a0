// MCP over stdio in a loopback cluster: its chat tool runs a turn of a session an HTTP node runs on that node (its approvals reaching the MCP client as notifications), gives a session it ran back once the turn ends, and carries an owner's Retry-After into the tool's error.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoopbackCluster, type ClusterNode, type LoopbackCluster } from '../support/loopback-cluster.js';
import { promptTexts, type ModelServer } from '../support/model-server.js';
import { needs } from '../support/needs.js';
import { eventually } from '../support/wait.js';

const missing =
  (await needs('the MCP over stdio cluster tests', 'postgresql')) ??
  (await needs('the MCP over stdio cluster tests', 'redis'));

const KEY = 'mcp-stdio-cluster-key-1234';

describe.skipIf(missing)('MCP over stdio in a cluster', { timeout: 180_000 }, () => {
  let cluster: LoopbackCluster;
  let model: ModelServer;
  let node: ClusterNode;
  let api: ClusterNode['api'];
  let client: Client;
  let fake: Server | undefined;

  const sessionId = async (name: string) => (await (await api(`/api/v1/sessions/${name}`)).json()).data.id as string;
  const live = () => cluster.live(node);
  const chat = async (name: string, message: string) =>
    (await client.callTool({ name: 'chat', arguments: { name, message } })) as CallToolResult;
  const lastPrompt = (text: string) => model.mainRequests().findLast((r) => r.prompt?.includes(text))!;
  /** Runs `fn` while Redis says node `owner`, announced at `url` (or not at all), holds the session. */
  const ownedBy = async (name: string, owner: string, url: string | undefined, fn: () => Promise<void>) =>
    cluster.ownedBy(await sessionId(name), owner, url, fn);
  const leaseOf = async (name: string) => cluster.leaseOf(await sessionId(name));

  beforeAll(async () => {
    cluster = await startLoopbackCluster('mcp-stdio-cluster', KEY, {
      SESSION_LEASE_SECONDS: '5',
      SSE_HEARTBEAT_SECONDS: '1',
    });
    model = cluster.model;
    node = await cluster.startNode('node-http');
    api = node.api;
    client = new Client({ name: 'mcp-stdio-cluster-test', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', 'src/cli.ts', 'mcp'],
        cwd: process.cwd(),
        stderr: 'pipe',
        env: { ...cluster.env, NODE_ID: 'stdio-1', MCP_API_KEY: KEY, LOG_LEVEL: 'warn' },
      }),
    );
  });

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    fake?.close();
    await cluster?.close();
  });

  it('chat on a session the HTTP node runs runs the turn there, with MCP_API_KEY as the caller', async () => {
    expect((await api('/api/v1/sessions', { method: 'POST', json: { name: 'st-http' } })).status).toBe(201);
    expect(
      (await api('/api/v1/sessions/st-http/chat', { method: 'POST', json: { message: 'st first on http' } })).status,
    ).toBe(200);
    expect(await leaseOf('st-http')).toMatch(/^node-http\|/);
    const result = await chat('st-http', 'st via stdio');
    expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      content: 'echo: st via stdio',
      result: { status: 'ok', content: 'echo: st via stdio' },
    });
    // The HTTP node's process, which holds the conversation, ran it.
    expect(promptTexts(lastPrompt('st via stdio'))).toContain('st first on http');
    expect(await live()).toBe(1);
    expect(await leaseOf('st-http')).toMatch(/^node-http\|/);
    const history = (await (await api('/api/v1/sessions/st-http/history')).json()).data as Array<{ role: string }>;
    expect(history.filter((m) => m.role === 'user')).toHaveLength(2);
    expect((await api('/api/v1/sessions/st-http', { method: 'DELETE' })).status).toBe(204);
  });

  it('a session the stdio process ran is given back when its turn ends, and the HTTP node then serves it', async () => {
    const created = (await client.callTool({
      name: 'create_session',
      arguments: { name: 'st-local' },
    })) as CallToolResult;
    expect(created.isError, JSON.stringify(created.content)).toBeFalsy();
    // Nobody runs it: the stdio process claims it and runs the turn itself.
    const first = await chat('st-local', 'st local first');
    expect(first.isError, JSON.stringify(first.content)).toBeFalsy();
    expect(first.structuredContent).toMatchObject({ content: 'echo: st local first' });
    // Its idle process is closed once the turn is recorded, and the lease with it.
    await eventually(
      async () => (await leaseOf('st-local')) === null,
      30_000,
      'the stdio process to release the lease',
    );
    const res = await api('/api/v1/sessions/st-local/chat', { method: 'POST', json: { message: 'st local on http' } });
    expect(res.status).toBe(200);
    expect((await res.json()).data).toMatchObject({ content: 'echo: st local on http' });
    expect(await leaseOf('st-local')).toMatch(/^node-http\|/);
    // The conversation went on where the stdio process left it (resumed from the shared folder).
    expect(promptTexts(lastPrompt('st local on http'))).toContain('st local first');
    // And the stdio side's next turn goes to the HTTP node now.
    const again = await chat('st-local', 'st local again via stdio');
    expect(again.structuredContent).toMatchObject({ content: 'echo: st local again via stdio' });
    expect(await leaseOf('st-local')).toMatch(/^node-http\|/);
    expect((await api('/api/v1/sessions/st-local', { method: 'DELETE' })).status).toBe(204);
  });

  it('an approval of a turn run on the HTTP node reaches the stdio client as a notification; answered there, the turn goes on', async () => {
    const created = await api('/api/v1/sessions', {
      method: 'POST',
      json: { name: 'st-appr', permission_rules: { ask: ['Write'] } },
    });
    expect(created.status).toBe(201);
    const workspace = (await created.json()).data.working_dir as string;
    expect(
      (await api('/api/v1/sessions/st-appr/chat', { method: 'POST', json: { message: 'st appr first' } })).status,
    ).toBe(200);
    model.script({
      match: 'st-appr-write',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/remote.txt', content: 'r\n' } } },
        { text: 'appr done' },
      ],
    });
    const notified = new Promise<any>((resolve) =>
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => resolve(n.params.data)),
    );
    const progress: string[] = [];
    const call = client.callTool(
      { name: 'chat', arguments: { name: 'st-appr', message: 'st-appr-write' } },
      undefined,
      {
        onprogress: (p) => progress.push(p.message ?? ''),
        resetTimeoutOnProgress: true,
      },
    );
    const approval = await notified;
    expect(approval).toMatchObject({ type: 'approval', tool: 'Write', session: 'st-appr' });
    const answered = await api(`/api/v1/sessions/st-appr/approvals/${approval.id}`, {
      method: 'POST',
      json: { decision: 'allow' },
    });
    expect(answered.status).toBe(200);
    const done = (await call) as CallToolResult;
    expect(done.isError, JSON.stringify(done.content)).toBeFalsy();
    expect(done.structuredContent).toMatchObject({ content: 'appr done' });
    expect(readFileSync(join(workspace, 'remote.txt'), 'utf8')).toBe('r\n');
    // The remote turn's events came as progress too, not only the heartbeat.
    expect(progress).toContain('tool_use Write');
    expect(progress.some((m) => m.startsWith(`approval ${approval.id} waits for a person`))).toBe(true);
    expect(await leaseOf('st-appr')).toMatch(/^node-http\|/);
    expect((await api('/api/v1/sessions/st-appr', { method: 'DELETE' })).status).toBe(204);
  });

  it("an owner's refusal keeps its Retry-After in the tool's error; a gone owner gives its own", async () => {
    expect((await api('/api/v1/sessions', { method: 'POST', json: { name: 'st-retry' } })).status).toBe(201);
    // An owner that answers the turn with 503 and Retry-After: 7.
    const asked: string[] = [];
    fake = createServer((req, res) => {
      asked.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      req.resume();
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '7' });
      res.end(
        JSON.stringify({
          type: '/problems/overloaded',
          title: 'Overloaded',
          status: 503,
          detail: 'Too many turns are running on this node.',
        }),
      );
    });
    await new Promise<void>((resolve) => fake!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    await ownedBy('st-retry', 'node-busy', url, async () => {
      const result = await chat('st-retry', 'st refused by busy owner');
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toMatchObject({
        problem: { status: 503, type: '/problems/overloaded', detail: 'Too many turns are running on this node.' },
        retry_after_seconds: 7,
      });
      expect((result.content[0] as { text: string }).text).toContain('retry after 7 s');
    });
    expect(asked).toEqual([`POST /api/v1/sessions/st-retry/chat/stream?events=native Bearer ${KEY}`]);
    // An owner no longer announced: 503 owner-unavailable, retry once its lease may have lapsed.
    await ownedBy('st-retry', 'node-gone', undefined, async () => {
      const result = await chat('st-retry', 'st refused by gone owner');
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toMatchObject({
        problem: { status: 503, type: '/problems/owner-unavailable' },
      });
      const retry = (result.structuredContent as { retry_after_seconds: number }).retry_after_seconds;
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
    });
    expect(model.mainRequests().some((r) => r.prompt?.startsWith('st refused'))).toBe(false);
    expect((await api('/api/v1/sessions/st-retry', { method: 'DELETE' })).status).toBe(204);
  });

  it("a remote turn's error event is the tool's error; a stream that ends before the turn does is the owner gone", async () => {
    expect((await api('/api/v1/sessions', { method: 'POST', json: { name: 'st-cut' } })).status).toBe(201);
    // An owner that streams a text event, then (per request) an error event, or nothing more.
    let ending: 'error' | 'cut' = 'error';
    const owner = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': stream open\n\nid: 1\nevent: text\ndata: {"type":"text","text":"partial"}\n\n');
      if (ending === 'error')
        res.write(
          `id: 2\nevent: error\ndata: ${JSON.stringify({
            type: 'error',
            problem: {
              type: '/problems/timeout',
              title: 'Turn timed out',
              status: 504,
              detail: 'The turn ran out of time.',
            },
          })}\n\n`,
        );
      res.end();
    });
    await new Promise<void>((resolve) => owner.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(owner.address() as AddressInfo).port}`;
      await ownedBy('st-cut', 'node-cut', url, async () => {
        const failed = await chat('st-cut', 'st failed remotely');
        expect(failed.isError).toBe(true);
        expect(failed.structuredContent).toMatchObject({
          problem: { status: 504, type: '/problems/timeout', detail: 'The turn ran out of time.' },
        });
        ending = 'cut';
        const cut = await chat('st-cut', 'st cut remotely');
        expect(cut.isError).toBe(true);
        expect(cut.structuredContent).toMatchObject({ problem: { status: 503, type: '/problems/owner-unavailable' } });
        expect((cut.content[0] as { text: string }).text).toContain('node-cut');
      });
    } finally {
      owner.close();
    }
    expect((await api('/api/v1/sessions/st-cut', { method: 'DELETE' })).status).toBe(204);
  });
});
