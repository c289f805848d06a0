// Sync chat through the real CLI: tools really run in the workspace, results, history rows, totals and follow-up context.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { promptTexts } from '../support/model-server.js';
import { needs } from '../support/needs.js';

const noBubblewrap = await needs('the Bash chat test (Bash runs in the sandbox)', 'bubblewrap');
const ctx = useTestServer();

async function createSession(name: string, body: Record<string, unknown> = {}) {
  const res = await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name, ...body } });
  expect(res.status).toBe(201);
  return (await res.json()).data;
}

async function chat(name: string, body: Record<string, unknown>) {
  const res = await ctx.t.request(`/api/v1/sessions/${name}/chat`, { method: 'POST', json: body });
  const json = await res.json();
  return { status: res.status, json };
}

describe('sync chat', () => {
  it('creates a pending session with its own workspace folder', async () => {
    const s = await createSession('alpha');
    expect(s.status).toBe('pending');
    expect(s.workspace.startsWith(ctx.t.dirs.workspaces)).toBe(true);
    expect(existsSync(s.workspace)).toBe(true);
    expect(s.working_dir).toBe(s.workspace);
    expect(s.live).toBe(false);
  });

  it('runs a Write in the workspace and answers with content, cost, usage and tools used', async () => {
    ctx.model.script({
      match: 'write-hello-file',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/hello.txt', content: 'Hello from Claude\n' } } },
        { text: 'I wrote hello.txt.' },
      ],
    });
    const { status, json } = await chat('alpha', { message: 'please write-hello-file' });
    expect(status).toBe(200);
    const d = json.data;
    expect(d.content).toBe('I wrote hello.txt.');
    expect(d.status).toBe('ok');
    expect(d.cost_usd).toBeGreaterThan(0);
    expect(d.num_turns).toBe(2);
    expect(d.usage.input_tokens).toBeGreaterThan(0);
    expect(d.usage.output_tokens).toBeGreaterThan(0);
    expect(d.tools_used).toHaveLength(1);
    expect(d.tools_used[0].name).toBe('Write');
    expect(typeof d.session_id).toBe('string');
    expect(json.meta.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const session = (await (await ctx.t.request('/api/v1/sessions/alpha')).json()).data;
    expect(readFileSync(join(session.workspace, 'hello.txt'), 'utf8')).toBe('Hello from Claude\n');
    expect(session.status).toBe('active');
    expect(session.claude_session_id).toBe(d.session_id);
    expect(session.totals.turns).toBe(1);
    expect(session.totals.cost_usd).toBeCloseTo(d.cost_usd, 10);
    expect(session.live).toBe(true);
  });

  it.skipIf(noBubblewrap)('feeds Bash output back to the model as the tool result', async () => {
    ctx.model.script({
      match: 'run-the-echo',
      steps: [
        { tool: { name: 'Bash', input: { command: 'echo bash-said-$((40+2))', description: 'echo a marker' } } },
        { text: 'Ran it.' },
      ],
    });
    // A session of its own: the tests after this one read alpha's whole history.
    await createSession('bash-echo');
    const { status, json } = await chat('bash-echo', { message: 'run-the-echo now' });
    expect(status).toBe(200);
    expect(json.data.tools_used[0]).toMatchObject({ name: 'Bash', input: { command: 'echo bash-said-$((40+2))' } });
    const followUp = ctx.model
      .mainRequests()
      .filter((r) => r.prompt?.includes('run-the-echo') && r.step === 1)
      .at(-1);
    expect(JSON.stringify(followUp?.body.messages.at(-1))).toContain('bash-said-42');
  });

  it('reads and edits files the client put in the workspace', async () => {
    const session = (await (await ctx.t.request('/api/v1/sessions/alpha')).json()).data;
    writeFileSync(join(session.workspace, 'notes.md'), 'colour: red\n');
    ctx.model.script({
      match: 'fix-the-notes',
      steps: [
        { tool: { name: 'Read', input: { file_path: '{{cwd}}/notes.md' } } },
        { tool: { name: 'Edit', input: { file_path: '{{cwd}}/notes.md', old_string: 'red', new_string: 'blue' } } },
        { text: 'Changed red to blue.' },
      ],
    });
    const { status, json } = await chat('alpha', { message: 'fix-the-notes please' });
    expect(status).toBe(200);
    expect(json.data.tools_used.map((x: { name: string }) => x.name)).toEqual(['Read', 'Edit']);
    expect(readFileSync(join(session.workspace, 'notes.md'), 'utf8')).toBe('colour: blue\n');
  });

  it('keeps the conversation: the model sees the earlier prompts of the session', async () => {
    const { json } = await chat('alpha', { message: 'what did I ask before?' });
    expect(json.data.content).toBe('echo: what did I ask before?');
    const last = ctx.model.mainRequests().at(-1)!;
    expect(promptTexts(last)).toEqual(['please write-hello-file', 'fix-the-notes please', 'what did I ask before?']);
  });

  it('records every turn in history, in order, with tools, cost and timing', async () => {
    const res = await ctx.t.request('/api/v1/sessions/alpha/history?limit=100');
    expect(res.status).toBe(200);
    const body = await res.json();
    const rows = body.data;
    expect(body.meta.pagination).toMatchObject({ page: 1, limit: 100, total: 6, pages: 1 });
    expect(rows.map((r: { role: string }) => r.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    expect(rows[0].content).toBe('please write-hello-file');
    expect(rows[1]).toMatchObject({ content: 'I wrote hello.txt.', status: 'ok', num_turns: 2 });
    expect(rows[1].tools_used[0].name).toBe('Write');
    expect(rows[1].cost_usd).toBeGreaterThan(0);
    expect(rows[1].duration_ms).toBeGreaterThan(0);
    expect(rows[1].usage.input_tokens).toBeGreaterThan(0);
    const ids = rows.map((r: { id: number }) => r.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    const page2 = await (await ctx.t.request('/api/v1/sessions/alpha/history?page=2&limit=4')).json();
    expect(page2.data.map((r: { id: number }) => r.id)).toEqual(ids.slice(4, 6));
    expect(page2.meta.pagination).toMatchObject({ page: 2, limit: 4, total: 6, pages: 2 });

    const session = (await (await ctx.t.request('/api/v1/sessions/alpha')).json()).data;
    const costs = rows
      .filter((r: { role: string }) => r.role === 'assistant')
      .reduce((a: number, r: { cost_usd: number }) => a + r.cost_usd, 0);
    expect(session.totals.turns).toBe(3);
    expect(session.totals.cost_usd).toBeCloseTo(costs, 10);
  });

  it('applies per-request overrides (model, system prompt) and returns to the session options afterwards', async () => {
    await createSession('beta', { model: 'claude-session-model' });
    const r1 = await chat('beta', { message: 'first on beta' });
    expect(r1.status).toBe(200);
    expect(ctx.model.mainRequests().at(-1)!.body.model).toBe('claude-session-model');
    const r2 = await chat('beta', {
      message: 'second on beta',
      model: 'claude-request-model',
      system: 'Answer like a pirate.',
    });
    expect(r2.status).toBe(200);
    const req2 = ctx.model.mainRequests().at(-1)!;
    expect(req2.body.model).toBe('claude-request-model');
    expect(JSON.stringify(req2.body.system)).toContain('Answer like a pirate.');
    expect(promptTexts(req2)).toEqual(['first on beta', 'second on beta']);
    const r3 = await chat('beta', { message: 'third on beta' });
    expect(r3.status).toBe(200);
    expect(ctx.model.mainRequests().at(-1)!.body.model).toBe('claude-session-model');
  });

  it('narrows tools: a session limited to Read cannot Write', async () => {
    await createSession('readonly', { allowed_tools: ['Read'] });
    ctx.model.script({
      match: 'try-to-write',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/nope.txt', content: 'x' } } },
        { text: 'Could not write.' },
      ],
    });
    const { status, json } = await chat('readonly', { message: 'try-to-write something' });
    expect(status).toBe(200);
    const session = (await (await ctx.t.request('/api/v1/sessions/readonly')).json()).data;
    expect(existsSync(join(session.workspace, 'nope.txt'))).toBe(false);
    expect(json.data.content).toBe('Could not write.');
    const sent = ctx.model
      .mainRequests()
      .filter((r) => r.prompt?.includes('try-to-write'))
      .at(0)!;
    const offered = sent.body.tools.map((x: { name: string }) => x.name);
    expect(offered).toContain('Read');
    expect(offered).not.toContain('Write');
    expect(offered).not.toContain('Bash');
  });
});
