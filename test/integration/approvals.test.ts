// A person in the loop through the real CLI: ask rules pause Write and Bash for an approval over the API, AskUserQuestion becomes a question, answers resume the turn.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebhookReceiver } from '../jobs/webhook-receiver.js';
import { useTestServer } from '../support/fixture.js';
import { needs } from '../support/needs.js';
import { createSession } from '../support/sessions.js';
import { COLOR_QUESTIONS } from '../support/questions.js';
import { KEYS } from '../support/server.js';
import { readSse, type SseReader } from '../support/sse.js';
import { eventually } from '../support/wait.js';

const ADMIN_KEY = 'test-admin-key-approvals-0001';
// A template whose rules sit between the operator's and the key's.
const templates = join(mkdtempSync(join(tmpdir(), 'cc-api-approval-templates-')), 'templates.yaml');
writeFileSync(templates, 'templates:\n  guarded:\n    permission_rules:\n      deny: ["Bash(touch tpl-blocked:*)"]\n');

const TURN_LIMIT_SECONDS = 20;
const APPROVAL_SECONDS = 25;
const ctx = useTestServer({
  // A person's wait outlasts the turn limit in the time-out test: it must not count against it.
  CLAUDE_TIMEOUT_SECONDS: String(TURN_LIMIT_SECONDS),
  APPROVAL_TIMEOUT_SECONDS: String(APPROVAL_SECONDS),
  CLAUDE_ALLOWED_TOOLS: 'Read,Write,Edit,Glob,Grep,LS,Bash,TodoWrite,AskUserQuestion',
  PERMISSION_RULES: JSON.stringify({ deny: ['Bash(rm -rf:*)'] }),
  WEBHOOK_ALLOW_PRIVATE: 'true',
  ADMIN_API_KEYS: ADMIN_KEY,
  TEMPLATES_PATH: templates,
  // One turn slot: a turn waiting for a person must give it back for others to run.
  MAX_CONCURRENT_TURNS: '1',
  TURN_QUEUE_TIMEOUT_SECONDS: '10',
});

let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await WebhookReceiver.start();
});
afterAll(async () => {
  await receiver?.close();
  rmSync(dirname(templates), { recursive: true, force: true });
});

const ASK = { ask: ['Write', 'Bash'] };
/** Bash runs only in the sandbox (bubblewrap); the cases that run it skip without it. */
const noBash = await needs('the approval cases that run Bash', 'bubblewrap');

async function stream(name: string, body: Record<string, unknown>): Promise<SseReader> {
  const res = await ctx.t.request(`/api/v1/sessions/${name}/chat/stream`, { method: 'POST', json: body });
  expect(res.status).toBe(200);
  return readSse(res);
}

async function nextOf(reader: SseReader, type: string) {
  for (;;) {
    const e = await reader.next();
    if (!e) throw new Error(`stream ended before a ${type} event`);
    if (e.event === type) return e;
  }
}

async function answer(
  name: string,
  id: string,
  body: Record<string, unknown>,
  key: string = KEYS[0],
  kind = 'approvals',
) {
  return ctx.t.request(`/api/v1/sessions/${name}/${kind}/${id}`, { method: 'POST', json: body, key });
}

/** Scripts the model to Write `file` and then say `done`, for prompts holding `marker`. */
function scriptWrite(marker: string, file: string, content: string, done: string) {
  ctx.model.script({
    match: marker,
    steps: [{ tool: { name: 'Write', input: { file_path: `{{cwd}}/${file}`, content } } }, { text: done }],
  });
}

/** Streams a turn of `session` up to its first approval. */
async function pausedStream(session: string, message: string) {
  const reader = await stream(session, { message });
  const { data: approval } = await nextOf(reader, 'approval');
  return { reader, approval };
}

const followUp = (marker: string) =>
  ctx.model
    .mainRequests()
    .filter((r) => r.prompt?.includes(marker) && (r.step ?? 0) > 0)
    .at(-1);

describe('approvals', () => {
  let workspace: string;

  beforeAll(async () => {
    workspace = (await createSession(ctx.t, 'appr', { permission_rules: ASK })).workspace;
    await createSession(ctx.t, 'appr', {}, KEYS[1]);
  });

  it('shows the approval on the stream, lists it, and allow writes the file; a second answer is 409', async () => {
    scriptWrite('appr-allow', 'allowed.txt', 'allowed\n', 'wrote it');
    const { reader, approval } = await pausedStream('appr', 'appr-allow');
    expect(approval).toMatchObject({
      type: 'approval',
      tool: 'Write',
      session: 'appr',
      rule: 'Write',
      input: { file_path: join(workspace, 'allowed.txt'), content: 'allowed\n' },
    });
    expect(approval.id).toMatch(/^apr_[0-9a-f]{32}$/);
    expect(Date.parse(approval.deadline)).toBeGreaterThan(Date.now());
    expect(existsSync(join(workspace, 'allowed.txt'))).toBe(false);

    const listed = (await (await ctx.t.request('/api/v1/sessions/appr/approvals')).json()).data;
    expect(listed.map((a: any) => a.id)).toEqual([approval.id]);
    const all = (await (await ctx.t.request('/api/v1/approvals')).json()).data;
    expect(all.map((a: any) => a.id)).toContain(approval.id);
    const others = (await (await ctx.t.request('/api/v1/approvals', { key: KEYS[1] })).json()).data;
    expect(others).toEqual([]);

    const res = await answer('appr', approval.id, { decision: 'allow' });
    expect(res.status).toBe(200);
    const settled = (await res.json()).data;
    expect(settled).toMatchObject({ status: 'allowed', decided_by: expect.any(String) });
    // Every client of the stream learns how the pause ended, not only the one that answered.
    const decision = await nextOf(reader, 'decision');
    expect(decision.data).toEqual({
      type: 'decision',
      id: approval.id,
      kind: 'approval',
      status: 'allowed',
      decided_by: settled.decided_by,
      reason: null,
    });
    const result = await nextOf(reader, 'result');
    expect(result.data.content).toBe('wrote it');
    expect(readFileSync(join(workspace, 'allowed.txt'), 'utf8')).toBe('allowed\n');

    const again = await answer('appr', approval.id, { decision: 'deny' });
    expect(again.status).toBe(409);
    expect((await again.json()).type).toBe('/problems/already-decided');
    expect((await (await ctx.t.request('/api/v1/sessions/appr/approvals')).json()).data).toEqual([]);

    const audit = (await (await ctx.t.request('/api/v1/audit?action=approval.decide')).json()).data;
    const row = audit.find((r: any) => r.detail?.id === approval.id);
    expect(row).toMatchObject({ outcome: 'allowed', session: 'appr', detail: { tool: 'Write', decision: 'allow' } });
    expect(row.key_id).toBeTruthy();
  });

  it('deny keeps the file unwritten and the model gets the message', async () => {
    scriptWrite('appr-deny', 'denied.txt', 'no\n', 'understood');
    const { reader, approval } = await pausedStream('appr', 'appr-deny');
    const res = await answer('appr', approval.id, {
      decision: 'deny',
      message: 'Not that file: write notes.md instead.',
      remember: 'key',
    });
    expect(res.status).toBe(200);
    expect((await nextOf(reader, 'decision')).data).toMatchObject({
      id: approval.id,
      status: 'denied',
      reason: 'Not that file: write notes.md instead.',
    });
    const keyRules = (await (await ctx.t.request('/api/v1/permission-rules')).json()).data;
    expect(keyRules).toEqual({ rules: {}, remembered: { deny: [`Write(/${join(workspace, 'denied.txt')})`] } });
    const otherKey = (await (await ctx.t.request('/api/v1/permission-rules', { key: KEYS[1] })).json()).data;
    expect(otherKey).toEqual({ rules: {}, remembered: {} });
    const result = await nextOf(reader, 'result');
    expect(existsSync(join(workspace, 'denied.txt'))).toBe(false);
    expect(result.data.denials).toEqual([
      expect.objectContaining({
        tool: 'Write',
        reason: expect.stringContaining('Not that file: write notes.md instead.'),
      }),
    ]);
    expect(JSON.stringify(followUp('appr-deny')?.body.messages.at(-1))).toContain(
      'Not that file: write notes.md instead.',
    );
  });

  it.skipIf(noBash)('updated_input changes what runs', async () => {
    ctx.model.script({
      match: 'appr-update',
      steps: [{ tool: { name: 'Bash', input: { command: 'echo original > updated.txt' } } }, { text: 'ran' }],
    });
    const { reader, approval } = await pausedStream('appr', 'appr-update');
    expect(approval).toMatchObject({ tool: 'Bash', input: { command: 'echo original > updated.txt' } });
    const res = await answer('appr', approval.id, {
      decision: 'allow',
      updated_input: { command: 'echo changed > updated.txt' },
    });
    expect(res.status).toBe(200);
    await nextOf(reader, 'result');
    expect(readFileSync(join(workspace, 'updated.txt'), 'utf8')).toBe('changed\n');
  });

  it('an updated_input that leaves the workspace is refused by the workspace guard', async () => {
    const outside = join(ctx.t.dirs.root, 'escaped.txt');
    scriptWrite('appr-escape', 'inside.txt', 'i\n', 'ok');
    const { reader, approval } = await pausedStream('appr', 'appr-escape');
    const res = await answer('appr', approval.id, {
      decision: 'allow',
      updated_input: { file_path: outside, content: 'out\n' },
    });
    expect(res.status).toBe(200);
    const result = await nextOf(reader, 'result');
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(join(workspace, 'inside.txt'))).toBe(false);
    expect(result.data.denials[0].reason).toContain('workspace policy');
  });

  it.skipIf(noBash)('remember makes the next identical call pass without asking', async () => {
    const call = { name: 'Bash', input: { command: 'echo again >> remembered.txt' } };
    ctx.model.script({ match: 'appr-remember', steps: [{ tool: call }, { text: 'appended' }] });
    const reader = await stream('appr', { message: 'appr-remember one' });
    const { data: approval } = await nextOf(reader, 'approval');
    expect((await answer('appr', approval.id, { decision: 'allow', remember: 'session' })).status).toBe(200);
    await nextOf(reader, 'result');

    const rules = (await (await ctx.t.request('/api/v1/sessions/appr/permission-rules')).json()).data;
    expect(rules).toEqual({ rules: ASK, remembered: { allow: ['Bash(echo again >> remembered.txt)'] } });

    const second = await reader.all().then(() => stream('appr', { message: 'appr-remember two' }));
    const events = await second.all();
    expect(events.map((e) => e.event)).not.toContain('approval');
    expect(events.at(-1)?.event).toBe('result');
    expect(readFileSync(join(workspace, 'remembered.txt'), 'utf8')).toBe('again\nagain\n');
  });

  it.skipIf(noBash)('the operator deny rule beats everything, without asking', async () => {
    ctx.model.script({
      match: 'appr-operator-deny',
      steps: [{ tool: { name: 'Bash', input: { command: 'rm -rf allowed.txt' } } }, { text: 'refused' }],
    });
    const res = await ctx.t.request('/api/v1/sessions/appr/chat', {
      method: 'POST',
      json: { message: 'appr-operator-deny', permission_rules: { allow: ['Bash(rm -rf:*)'] } },
    });
    expect(res.status).toBe(200);
    const data = (await res.json()).data;
    expect(data.denials[0].reason).toContain('Denied by the operator permission rule Bash(rm -rf:*)');
    expect(existsSync(join(workspace, 'allowed.txt'))).toBe(true);
  });

  it('a sync chat that meets an approval answers 202 with it and the stream URL', async () => {
    scriptWrite('appr-sync', 'sync.txt', 'sync\n', 'ok');
    const res = await ctx.t.request('/api/v1/sessions/appr/chat', { method: 'POST', json: { message: 'appr-sync' } });
    expect(res.status).toBe(202);
    const data = (await res.json()).data;
    expect(data).toMatchObject({
      status: 'waiting',
      stream_url: '/api/v1/sessions/appr/chat/stream',
      approvals_url: '/api/v1/sessions/appr/approvals',
    });
    expect(data.pending).toHaveLength(1);
    expect(data.pending[0]).toMatchObject({
      kind: 'approval',
      tool: 'Write',
      status: 'pending',
      turn_id: data.turn_id,
    });
    expect((await answer('appr', data.pending[0].id, { decision: 'allow' })).status).toBe(200);
    const follow = readSse(await ctx.t.request(data.stream_url));
    const events = await follow.all();
    expect(events.map((e) => e.event)).toContain('approval');
    expect(events.at(-1)).toMatchObject({ event: 'result', data: { turn_id: data.turn_id } });
    expect(readFileSync(join(workspace, 'sync.txt'), 'utf8')).toBe('sync\n');
  });

  it('another tenant and an unknown id get 404; a bad answer 422; nothing changes', async () => {
    scriptWrite('appr-tenant', 'tenant.txt', 't\n', 'ok');
    const { reader, approval } = await pausedStream('appr', 'appr-tenant');
    // Bravo has its own session named appr: alpha's approval is not in it.
    const foreign = await answer('appr', approval.id, { decision: 'allow' }, KEYS[1]);
    expect(foreign.status).toBe(404);
    const unknown = await answer('appr', `apr_${'0'.repeat(32)}`, { decision: 'allow' });
    expect(unknown.status).toBe(404);
    const noDecision = await answer('appr', approval.id, {});
    expect(noDecision.status).toBe(422);
    const asQuestion = await answer('appr', approval.id, { answers: { x: 'y' } }, KEYS[0], 'questions');
    expect(asQuestion.status).toBe(404);
    expect((await (await ctx.t.request('/api/v1/sessions/appr/approvals')).json()).data[0]).toMatchObject({
      id: approval.id,
      status: 'pending',
    });
    expect(existsSync(join(workspace, 'tenant.txt'))).toBe(false);
    expect((await answer('appr', approval.id, { decision: 'deny' })).status).toBe(200);
    await nextOf(reader, 'result');
  });

  it('an interrupted turn expires its pending approval: a late answer is 409', async () => {
    scriptWrite('appr-interrupt', 'never.txt', 'n\n', 'ok');
    // Its own session: after an interrupt the CLI folds the next prompt into the cut-off turn's transcript.
    const own = await createSession(ctx.t, 'appr-int', { permission_rules: ASK });
    const { reader, approval } = await pausedStream('appr-int', 'appr-interrupt');
    const interrupted = await ctx.t.request('/api/v1/sessions/appr-int/interrupt', { method: 'POST' });
    expect((await interrupted.json()).data.interrupted).toBe(true);
    const end = await reader.all();
    expect(end.at(-1)?.event).toMatch(/^(result|error)$/);
    const late = await answer('appr-int', approval.id, { decision: 'allow' });
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({ approval_status: 'expired' });
    expect(existsSync(join(own.workspace, 'never.txt'))).toBe(false);
  });

  it('tells an MCP client of the approval its chat call waits for (notifications/message)', async () => {
    scriptWrite('appr-mcp', 'mcp.txt', 'm\n', 'mcp done');
    const client = new Client({ name: 'approvals-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${ctx.t.url}/mcp`), {
        requestInit: { headers: { 'x-api-key': KEYS[0] } },
      }),
    );
    try {
      const notified = new Promise<any>((resolve) =>
        client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => resolve(n.params.data)),
      );
      const result = client.callTool({ name: 'chat', arguments: { name: 'appr', message: 'appr-mcp' } });
      const approval = await notified;
      expect(approval).toMatchObject({ type: 'approval', tool: 'Write', session: 'appr' });
      expect((await answer('appr', approval.id, { decision: 'allow' })).status).toBe(200);
      const done = (await result) as CallToolResult;
      expect(done.isError).toBeFalsy();
      expect(JSON.stringify(done.structuredContent)).toContain('mcp done');
      expect(readFileSync(join(workspace, 'mcp.txt'), 'utf8')).toBe('m\n');
    } finally {
      await client.close();
    }
  });

  it('a turn waiting for a person holds no turn slot: another session runs meanwhile', async () => {
    await createSession(ctx.t, 'bystander');
    scriptWrite('appr-slot', 'slot.txt', 's\n', 'ok');
    ctx.model.script({ match: 'bystander-turn', steps: [{ text: 'ran while the other waited' }] });
    const { reader, approval } = await pausedStream('appr', 'appr-slot');
    const other = await ctx.t.request('/api/v1/sessions/bystander/chat', {
      method: 'POST',
      json: { message: 'bystander-turn' },
    });
    expect(other.status).toBe(200);
    expect((await other.json()).data.content).toBe('ran while the other waited');
    expect((await answer('appr', approval.id, { decision: 'allow' })).status).toBe(200);
    expect((await nextOf(reader, 'result')).data.content).toBe('ok');
    expect(readFileSync(join(workspace, 'slot.txt'), 'utf8')).toBe('s\n');
  });

  it.skipIf(noBash)('applies the template and key levels (key rules are set by an admin only)', async () => {
    const own = await createSession(ctx.t, 'templated', { template: 'guarded' });
    const byUser = await ctx.t.request('/api/v1/permission-rules', { method: 'PUT', json: { deny: ['Read'] } });
    expect(byUser.status).toBe(403);
    const put = await ctx.t.request('/api/v1/permission-rules', {
      method: 'PUT',
      key: ADMIN_KEY,
      headers: { 'x-tenant': own.owner },
      json: { deny: ['Bash(touch key-blocked:*)'] },
    });
    expect(put.status).toBe(200);
    expect((await (await ctx.t.request('/api/v1/permission-rules')).json()).data.rules).toEqual({
      deny: ['Bash(touch key-blocked:*)'],
    });
    ctx.model.script({
      match: 'levels-turn',
      steps: [
        { tool: { name: 'Bash', input: { command: 'touch tpl-blocked' } } },
        { tool: { name: 'Bash', input: { command: 'touch key-blocked' } } },
        { tool: { name: 'Bash', input: { command: 'touch free' } } },
        { text: 'done' },
      ],
    });
    const res = await ctx.t.request('/api/v1/sessions/templated/chat', {
      method: 'POST',
      json: { message: 'levels-turn' },
    });
    expect(res.status).toBe(200);
    const reasons = (await res.json()).data.denials.map((d: any) => d.reason);
    expect(reasons).toEqual([
      expect.stringContaining('the template permission rule Bash(touch tpl-blocked:*)'),
      expect.stringContaining('the key permission rule Bash(touch key-blocked:*)'),
    ]);
    expect(existsSync(join(own.workspace, 'tpl-blocked'))).toBe(false);
    expect(existsSync(join(own.workspace, 'key-blocked'))).toBe(false);
    expect(existsSync(join(own.workspace, 'free'))).toBe(true);
    await ctx.t.request('/api/v1/permission-rules', {
      method: 'PUT',
      key: ADMIN_KEY,
      headers: { 'x-tenant': own.owner },
      json: {},
    });
  });

  it('refuses unknown and malformed rules with a 422 naming the rule, creating nothing', async () => {
    for (const [rules, named] of [
      [{ ask: ['Bsh(ls)'] }, 'unknown tool Bsh'],
      [{ deny: ['Read', 'Write(src/**'] }, '"Write(src/**"'],
      [{ allow: ['WebFetch(example.com)'] }, 'domain:'],
      [{ ask: ['TodoWrite(x)'] }, 'TodoWrite rules take no specifier'],
    ] as const) {
      const res = await ctx.t.request('/api/v1/sessions', {
        method: 'POST',
        json: { name: 'bad-rules', permission_rules: rules },
      });
      expect(res.status).toBe(422);
      const problem = await res.json();
      expect(problem.type).toBe('/problems/invalid-permission-rule');
      expect(problem.detail).toContain(named);
      expect(problem.errors[0].pointer).toMatch(/^\/permission_rules\/(allow|ask|deny)\/\d+$/);
    }
    expect((await ctx.t.request('/api/v1/sessions/bad-rules')).status).toBe(404);
    const chat = await ctx.t.request('/api/v1/sessions/appr/chat', {
      method: 'POST',
      json: { message: 'never sent', permission_rules: { deny: ['Nope'] } },
    });
    expect(chat.status).toBe(422);
    const put = await ctx.t.request('/api/v1/sessions/appr/permission-rules', {
      method: 'PUT',
      json: { ask: ['Bash('] },
    });
    expect(put.status).toBe(422);
    const rules = (await (await ctx.t.request('/api/v1/sessions/appr/permission-rules')).json()).data;
    expect(rules.rules).toEqual(ASK);
  });

  it('turns AskUserQuestion into a question event; the chosen answer reaches the model', async () => {
    await createSession(ctx.t, 'asker');
    const questions = COLOR_QUESTIONS;
    ctx.model.script({
      match: 'ask-color',
      steps: [{ tool: { name: 'AskUserQuestion', input: { questions } } }, { text: 'noted' }],
    });
    const reader = await stream('asker', { message: 'ask-color' });
    const { data: question } = await nextOf(reader, 'question');
    expect(question).toMatchObject({
      type: 'question',
      session: 'asker',
      questions: [{ question: 'Which color?', header: 'Color', multi_select: false, options: questions[0]!.options }],
    });
    const wrong = await answer('asker', question.id, { answers: { 'Which size?': 'Big' } }, KEYS[0], 'questions');
    expect(wrong.status).toBe(422);
    const res = await answer('asker', question.id, { answers: { 'Which color?': 'Blue' } }, KEYS[0], 'questions');
    expect(res.status).toBe(200);
    expect((await res.json()).data).toMatchObject({
      status: 'answered',
      response: { answers: { 'Which color?': 'Blue' } },
    });
    expect((await nextOf(reader, 'decision')).data).toMatchObject({
      id: question.id,
      kind: 'question',
      status: 'answered',
    });
    const result = await nextOf(reader, 'result');
    expect(result.data.content).toBe('noted');
    expect(JSON.stringify(followUp('ask-color')?.body.messages.at(-1))).toContain('Blue');
  });

  it('a job waits (status waiting, webhook approval.requested) and goes on when answered', async () => {
    scriptWrite('appr-job', 'job.txt', 'job\n', 'job done');
    const created = await ctx.t.request('/api/v1/sessions/appr/jobs', {
      method: 'POST',
      json: { message: 'appr-job', webhook_url: `${receiver.url}/hook` },
    });
    expect(created.status).toBe(202);
    const job = (await created.json()).data;
    const [requested] = await receiver.waitFor(1, (r) => JSON.parse(r.body).type === 'approval.requested', 60_000);
    const payload = JSON.parse(requested!.body);
    expect(payload.data).toMatchObject({
      id: job.id,
      status: 'waiting',
      approval: { type: 'approval', tool: 'Write' },
    });
    const waiting = (await (await ctx.t.request(`/api/v1/sessions/appr/jobs/${job.id}`)).json()).data;
    expect(waiting.status).toBe('waiting');
    const pending = (await (await ctx.t.request('/api/v1/sessions/appr/approvals')).json()).data;
    expect(pending[0]).toMatchObject({ id: payload.data.approval.id, job_id: job.id });

    expect((await answer('appr', payload.data.approval.id, { decision: 'allow' })).status).toBe(200);
    await receiver.waitFor(1, (r) => JSON.parse(r.body).type === 'job.succeeded', 60_000);
    expect(readFileSync(join(workspace, 'job.txt'), 'utf8')).toBe('job\n');
    const types = receiver.received
      .map((r) => JSON.parse(r.body))
      .filter((p) => p.data.id === job.id)
      .map((p) => p.type);
    expect(types).toEqual(['job.started', 'approval.requested', 'job.succeeded']);
  });

  it(`no answer within APPROVAL_TIMEOUT_SECONDS denies, and the wait does not count against the turn's limit`, async () => {
    scriptWrite('appr-timeout', 'late.txt', 'late\n', 'gave up');
    const started = Date.now();
    const { reader, approval } = await pausedStream('appr', 'appr-timeout');
    const decision = (await nextOf(reader, 'decision')).data;
    expect(decision).toMatchObject({ id: approval.id, status: 'expired', decided_by: null });
    expect(decision.reason).toContain(`Nobody answered within ${APPROVAL_SECONDS} s`);
    const data = (await nextOf(reader, 'result')).data;
    const waited = (Date.now() - started) / 1000;
    expect(waited).toBeGreaterThan(TURN_LIMIT_SECONDS);
    expect(data.status).toBe('ok');
    expect(data.denials[0].reason).toContain(`Nobody answered within ${APPROVAL_SECONDS} s`);
    expect(existsSync(join(workspace, 'late.txt'))).toBe(false);
    expect(JSON.stringify(followUp('appr-timeout')?.body.messages.at(-1))).toContain('Nobody answered');
    const audit = await eventually(async () => {
      const rows = (await (await ctx.t.request('/api/v1/sessions/appr/approvals')).json()).data;
      return rows.length === 0 ? rows : undefined;
    });
    expect(audit).toEqual([]);
  });
});
