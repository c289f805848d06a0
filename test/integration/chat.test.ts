// Sync chat through the real CLI: tools really run in the workspace, results, history rows, totals and follow-up context.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { createSession } from '../support/sessions.js';
import type { paths } from '../support/api/types.js';
import { promptTexts } from '../support/model-server.js';
import { needs } from '../support/needs.js';

const noBubblewrap = await needs('the Bash chat test (Bash runs in the sandbox)', 'bubblewrap');
const ctx = useTestServer();

type ChatRequest = paths['/api/v1/sessions/{name}/chat']['post']['requestBody']['content']['application/json'];

async function getSession(name: string) {
  const { response, data } = await ctx.api.GET('/api/v1/sessions/{name}', { params: { path: { name } } });
  expect(response.status).toBe(200);
  return data!.data;
}

/** A sync chat: its status, and the turn's result when it answered 200. */
async function chat(name: string, body: ChatRequest) {
  const { response, data } = await ctx.api.POST('/api/v1/sessions/{name}/chat', { params: { path: { name } }, body });
  const answer = data?.data;
  return { status: response.status, result: answer && 'content' in answer ? answer : undefined, meta: data?.meta };
}

describe('sync chat', () => {
  it('creates a pending session with its own workspace folder', async () => {
    const s = await createSession(ctx.t, 'alpha');
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
    const { status, result: d, meta } = await chat('alpha', { message: 'please write-hello-file' });
    expect(status).toBe(200);
    if (!d) throw new Error('no turn result');
    expect(d.content).toBe('I wrote hello.txt.');
    expect(d.status).toBe('ok');
    expect(d.cost_usd).toBeGreaterThan(0);
    expect(d.num_turns).toBe(2);
    expect(d.usage.input_tokens).toBeGreaterThan(0);
    expect(d.usage.output_tokens).toBeGreaterThan(0);
    expect(d.tools_used).toHaveLength(1);
    expect(d.tools_used[0]?.name).toBe('Write');
    expect(typeof d.session_id).toBe('string');
    expect(meta?.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const session = await getSession('alpha');
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
    await createSession(ctx.t, 'bash-echo');
    const { status, result } = await chat('bash-echo', { message: 'run-the-echo now' });
    expect(status).toBe(200);
    expect(result?.tools_used[0]).toMatchObject({ name: 'Bash', input: { command: 'echo bash-said-$((40+2))' } });
    const followUp = ctx.model
      .mainRequests()
      .filter((r) => r.prompt?.includes('run-the-echo') && r.step === 1)
      .at(-1);
    expect(JSON.stringify(followUp?.body.messages.at(-1))).toContain('bash-said-42');
  });

  it('reads and edits files the client put in the workspace', async () => {
    const session = await getSession('alpha');
    writeFileSync(join(session.workspace, 'notes.md'), 'colour: red\n');
    ctx.model.script({
      match: 'fix-the-notes',
      steps: [
        { tool: { name: 'Read', input: { file_path: '{{cwd}}/notes.md' } } },
        { tool: { name: 'Edit', input: { file_path: '{{cwd}}/notes.md', old_string: 'red', new_string: 'blue' } } },
        { text: 'Changed red to blue.' },
      ],
    });
    const { status, result } = await chat('alpha', { message: 'fix-the-notes please' });
    expect(status).toBe(200);
    expect(result?.tools_used.map((x) => x.name)).toEqual(['Read', 'Edit']);
    expect(readFileSync(join(session.workspace, 'notes.md'), 'utf8')).toBe('colour: blue\n');
  });

  it('keeps the conversation: the model sees the earlier prompts of the session', async () => {
    const { result: again } = await chat('alpha', { message: 'what did I ask before?' });
    expect(again?.content).toBe('echo: what did I ask before?');
    const last = ctx.model.mainRequests().at(-1)!;
    expect(promptTexts(last)).toEqual(['please write-hello-file', 'fix-the-notes please', 'what did I ask before?']);
  });

  it('records every turn in history, in order, with tools, cost and timing', async () => {
    const history = (query: { page?: number; limit?: number }) =>
      ctx.api.GET('/api/v1/sessions/{name}/history', { params: { path: { name: 'alpha' }, query } });
    const { response, data: body } = await history({ limit: 100 });
    expect(response.status).toBe(200);
    const rows = body!.data;
    expect(body!.meta.pagination).toMatchObject({ page: 1, limit: 100, total: 6, pages: 1 });
    expect(rows.map((r) => r.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
    const [asked, answered] = rows;
    expect(asked?.content).toBe('please write-hello-file');
    expect(answered).toMatchObject({ content: 'I wrote hello.txt.', status: 'ok', num_turns: 2 });
    expect(answered?.tools_used?.[0]?.name).toBe('Write');
    expect(answered?.cost_usd).toBeGreaterThan(0);
    expect(answered?.duration_ms).toBeGreaterThan(0);
    expect(answered?.usage?.input_tokens).toBeGreaterThan(0);
    const ids = rows.map((r) => r.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);

    const page2 = (await history({ page: 2, limit: 4 })).data!;
    expect(page2.data.map((r) => r.id)).toEqual(ids.slice(4, 6));
    expect(page2.meta.pagination).toMatchObject({ page: 2, limit: 4, total: 6, pages: 2 });

    const session = await getSession('alpha');
    const costs = rows.filter((r) => r.role === 'assistant').reduce((a, r) => a + (r.cost_usd ?? 0), 0);
    expect(session.totals.turns).toBe(3);
    expect(session.totals.cost_usd).toBeCloseTo(costs, 10);
  });

  it('applies per-request overrides (model, system prompt) and returns to the session options afterwards', async () => {
    await createSession(ctx.t, 'beta', { model: 'claude-session-model' });
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
    await createSession(ctx.t, 'readonly', { allowed_tools: ['Read'] });
    ctx.model.script({
      match: 'try-to-write',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/nope.txt', content: 'x' } } },
        { text: 'Could not write.' },
      ],
    });
    const { status, result } = await chat('readonly', { message: 'try-to-write something' });
    expect(status).toBe(200);
    const session = await getSession('readonly');
    expect(existsSync(join(session.workspace, 'nope.txt'))).toBe(false);
    expect(result?.content).toBe('Could not write.');
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
