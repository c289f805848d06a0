// The web console in real Chromium against the real server and the scripted model: sign in, sessions, a live turn with
// a tool call, files, an approval, a job, usage, audit and keys, the approvals inbox, an admin's tenant, a reopened
// turn's tool output; each page is screenshotted into docs/console/.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { useTestServer } from '../support/fixture.js';
import { COLOR_QUESTIONS } from '../support/questions.js';
import { needs } from '../support/needs.js';
import { eventually } from '../support/wait.js';
import { KEYS } from '../support/server.js';

const ADMIN_KEY = 'test-admin-key-console-0001';
// Every run takes the screenshots; they replace the ones in docs/console/ only when UPDATE_CONSOLE_SCREENSHOTS is set,
// so an ordinary test run leaves the work tree clean.
const SHOTS = process.env.UPDATE_CONSOLE_SCREENSHOTS
  ? join(import.meta.dirname, '../../docs/console')
  : mkdtempSync(join(tmpdir(), 'cca-console-shots-'));
// The console's stream reader, loaded at run time (it is browser code, outside this project's Node type check).
const SSE_MODULE: string = '../../console/src/sse.ts';
type FollowStream = (
  open: (lastEventId: string | undefined) => Promise<Response>,
  opts: { signal: AbortSignal; onEvent(e: { id?: string; event: string; data: any }): void },
) => Promise<void>;

/** The response with its body failing after `blocks` SSE blocks, as a dropped connection does (the socket stays open). */
function droppedAfter(res: Response, blocks: number): Response {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let seen = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      controller.enqueue(value);
      seen += (decoder.decode(value, { stream: true }).match(/\n\n/g) ?? []).length;
      if (seen >= blocks) controller.error(new Error('connection lost'));
    },
  });
  return new Response(body, { status: res.status, headers: res.headers });
}
describe.skipIf(await needs('the web console end-to-end tests', 'chromium'))('web console in Chromium', () => {
  // The server reads the built console when it starts, so build it first.
  beforeAll(async () => {
    await build({ configFile: join(import.meta.dirname, '../../console/vite.config.ts'), logLevel: 'warn' });
  });
  const ctx = useTestServer({
    ADMIN_API_KEYS: ADMIN_KEY,
    CLAUDE_ALLOWED_TOOLS: 'Read,Write,Edit,Glob,Grep,LS,Bash,TodoWrite,AskUserQuestion',
    MAX_CONCURRENT_TURNS: '2',
  });
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.setDefaultTimeout(60_000);
    // A CSP violation or a script error is a failure of the page.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
  });

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const open = (path: string) => page.goto(`${ctx.t.url}${path}`);
  const session = 'console-demo';
  const workspace = () => join(ctx.t.dirs.workspaces, tenantOf(ADMIN_KEY), session);

  it('serves the console at / with its own CSP, and leaves the API, docs and 404s as they were', async () => {
    const home = await fetch(`${ctx.t.url}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toMatch(/text\/html/);
    const csp = home.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await home.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script
    expect(html).not.toMatch(/cca_|test-key|test-admin/); // no secret in the page
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${ctx.t.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    // Console pages fall back to index.html; anything else keeps its problem 404.
    expect((await fetch(`${ctx.t.url}/sessions/anything`)).status).toBe(200);
    const missing = await fetch(`${ctx.t.url}/no-such-page`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/problem+json');
    const missingAsset = await fetch(`${ctx.t.url}/assets/nope.js`);
    expect(missingAsset.status).toBe(404);
    const health = await fetch(`${ctx.t.url}/api/v1/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-security-policy')).toContain("style-src 'self' 'unsafe-inline'");
    expect((await fetch(`${ctx.t.url}/docs`, { redirect: 'manual' })).status).toBeLessThan(400);
    const unauth = await fetch(`${ctx.t.url}/api/v1/sessions`);
    expect(unauth.status).toBe(401);
  });

  it('refuses a wrong key with the problem, and a user key sees no admin pages', async () => {
    await open('/');
    await page.getByRole('textbox', { name: 'API key' }).fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('The API key is not valid.');
    await shot('sign-in');
    await page.getByRole('textbox', { name: 'API key' }).fill(KEYS[1]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'New session' }).waitFor();
    expect(await page.getByRole('link', { name: 'Keys' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Audit' }).count()).toBe(0);
    expect(await page.getByRole('combobox', { name: /tenant/i }).count()).toBe(0);
    // The key lives in sessionStorage only, never in the URL.
    expect(page.url()).not.toContain(KEYS[1]);
    expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([KEYS[1]]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
  });

  it('an admin signs in with the keyboard and creates a session from a template with an ask rule', async () => {
    await page.getByRole('textbox', { name: 'API key' }).fill(ADMIN_KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'Keys' }).waitFor();
    await page.getByRole('button', { name: 'New session' }).click();
    await page.getByRole('textbox', { name: 'Session name' }).fill('bad name!');
    await page.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Validation failed');
    await page.getByRole('textbox', { name: 'Session name' }).fill(session);
    await page.getByRole('combobox', { name: 'Template' }).selectOption('test-writer');
    await page.getByRole('textbox', { name: 'Ask rules' }).fill('Write');
    await shot('new-session');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(`**/sessions/${session}`);
    await page.getByText('template test-writer').waitFor();
    const stored = await (
      await ctx.t.request(`/api/v1/sessions/${session}/permission-rules`, { key: ADMIN_KEY })
    ).json();
    expect(stored.data.rules.ask).toEqual(['Write']);
  });

  it('uploads by file input and by drag and drop, views with highlighting, downloads and deletes', async () => {
    await page.getByRole('link', { name: 'Files' }).click();
    await page.getByText('This folder is empty.').waitFor();
    await page.getByLabel('Upload files').setInputFiles({
      name: 'notes.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from('# Notes\n\nThe answer is **42**.\n'),
    });
    await page.getByRole('button', { name: 'View notes.md' }).waitFor();
    // Drag and drop: a real drop event carrying a file.
    const dropped = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['export const x: number = 1;\\n'], 'code.ts', { type: 'text/plain' }));
      return dt;
    })()`);
    await page.locator('.drop').dispatchEvent('drop', { dataTransfer: dropped });
    await page.getByRole('button', { name: 'View code.ts' }).click();
    await page.locator('.viewer .hljs-keyword').first().waitFor();
    expect(readFileSync(join(workspace(), 'code.ts'), 'utf8')).toBe('export const x: number = 1;\n');
    await shot('files');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download notes.md' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('notes.md');
    expect(readFileSync(await download.path(), 'utf8')).toBe('# Notes\n\nThe answer is **42**.\n');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete code.ts' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'View code.ts' }).count()).toBe(0);
    expect(existsSync(join(workspace(), 'code.ts'))).toBe(false);
  });

  it('sends with Enter and streams the text and a tool call with its result', async () => {
    ctx.model.script({
      match: 'console-read',
      steps: [
        { tool: { name: 'Read', input: { file_path: '{{cwd}}/notes.md' } } },
        { text: ['The notes ', 'say the answer ', 'is 42.'], chunkDelayMs: 30 },
      ],
    });
    await page.getByRole('link', { name: 'Conversation' }).click();
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill('console-read: first line');
    await box.press('Shift+Enter');
    await box.pressSequentially('second line');
    expect(await box.inputValue()).toBe('console-read: first line\nsecond line');
    await box.press('Enter');
    await page.getByText('The notes say the answer is 42.').waitFor();
    const tool = page.locator('details.tool').filter({ hasText: 'Read' });
    await tool.locator('summary').click();
    await expect.poll(() => tool.textContent()).toContain('The answer is **42**.');
    await expect.poll(() => page.locator('.turn .meta').last().textContent()).toMatch(/ok · \$/);
    expect(await box.inputValue()).toBe('');
    await shot('session');
  });

  it('pauses a Write under the ask rule and resumes it with Allow', async () => {
    ctx.model.script({
      match: 'console-write',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/approved.txt', content: 'allowed by a person\n' } } },
        { text: 'Written after approval.' },
      ],
    });
    await page.getByRole('textbox', { name: 'Message' }).fill('console-write please');
    await page.getByRole('button', { name: 'Send' }).click();
    const allow = page.getByRole('button', { name: 'Allow' });
    await allow.waitFor();
    expect(await page.getByRole('button', { name: 'Deny' }).count()).toBe(1);
    expect(existsSync(join(workspace(), 'approved.txt'))).toBe(false);
    await shot('approval');
    await allow.click();
    await page.getByText('Written after approval.').waitFor();
    expect(readFileSync(join(workspace(), 'approved.txt'), 'utf8')).toBe('allowed by a person\n');
  });

  it('answers a question of the model with the chosen option', async () => {
    const created = await ctx.t.request('/api/v1/sessions', {
      method: 'POST',
      key: ADMIN_KEY,
      json: { name: 'console-ask' },
    });
    expect(created.status).toBe(201);
    const questions = COLOR_QUESTIONS;
    ctx.model.script({
      match: 'console-ask-color',
      steps: [{ tool: { name: 'AskUserQuestion', input: { questions } } }, { text: 'Noted your colour.' }],
    });
    await open('/sessions/console-ask');
    await page.getByRole('textbox', { name: 'Message' }).fill('console-ask-color');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('radio', { name: /Blue/ }).check();
    await shot('question');
    await page.getByRole('button', { name: 'Answer' }).click();
    await page.getByText('Noted your colour.').waitFor();
    const followUp = ctx.model
      .mainRequests()
      .filter((r) => r.prompt?.includes('console-ask-color'))
      .at(-1);
    expect(JSON.stringify(followUp?.body.messages.at(-1))).toContain('Blue');
    await open(`/sessions/${session}`);
  });

  it('starts a job and watches it finish', async () => {
    ctx.model.script({ match: 'console-job', steps: [{ text: ['Job ', 'done.'] }] });
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('combobox', { name: 'Session' }).selectOption(session);
    await page.getByRole('textbox', { name: 'Job message' }).fill('console-job run');
    await page.getByRole('button', { name: 'Start job' }).click();
    await page.getByRole('region', { name: 'Job' }).getByText('Job done.').waitFor();
    await page.getByRole('region', { name: 'Job' }).locator('.badge.done').waitFor();
    await shot('jobs');
  });

  it('shows usage by day and model as charts', async () => {
    await page.getByRole('link', { name: 'Usage' }).click();
    await page.getByRole('img', { name: 'Cost by day' }).waitFor();
    expect(await page.getByRole('img', { name: 'Tokens by model' }).count()).toBe(1);
    expect(await page.locator('.chart .bar').count()).toBeGreaterThanOrEqual(4);
    await shot('usage');
  });

  it('lists sessions with their state and cost, and shows the audit trail to an admin', async () => {
    await page.getByRole('link', { name: 'Sessions' }).click();
    const row = page.getByRole('row').filter({ hasText: session });
    await expect.poll(() => row.textContent()).toMatch(/\$0\.\d{4}/);
    await shot('sessions');
    // Keyboard only: Tab reaches "New session", Enter opens the form with the focus moved on by Tab to its name.
    let focused = '';
    for (let i = 0; i < 20 && focused !== 'New session'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate<string>('document.activeElement?.textContent?.trim() ?? ""');
    }
    expect(focused).toBe('New session');
    await page.keyboard.press('Enter');
    await page.getByRole('textbox', { name: 'Session name' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string>('document.activeElement?.closest("label")?.textContent?.trim() ?? ""')).toMatch(
      /^Session name/,
    );
    await page.getByRole('button', { name: 'Cancel' }).press('Enter');
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('cell', { name: 'session.create' }).first().waitFor();
    await shot('audit');
  });

  it('creates a key, shows its secret once, and revokes it', async () => {
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('textbox', { name: 'Key name' }).fill('console bot');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.locator('.secret-value').textContent())!;
    expect(secret).toMatch(/^cca_/);
    const ok = await ctx.t.request('/api/v1/sessions', { key: secret });
    expect(ok.status).toBe(200);
    await shot('keys');
    await page.getByRole('button', { name: 'Hide secret' }).click();
    expect(await page.getByText(secret).count()).toBe(0);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke console bot' }).click();
    await page.getByText(/^revoked /).waitFor();
    expect((await ctx.t.request('/api/v1/sessions', { key: secret })).status).toBe(401);
  });

  it('resumes a dropped stream with Last-Event-ID: every event once, in order, up to the result', async () => {
    ctx.model.script({
      match: 'console-reconnect',
      steps: [{ text: ['one ', 'two ', 'three ', 'four ', 'five ', 'six'], chunkDelayMs: 150 }],
    });
    const { followStream } = (await import(SSE_MODULE)) as { followStream: FollowStream };
    const first = new AbortController();
    const done = new AbortController();
    const asked: (string | undefined)[] = [];
    const events: { id?: string; event: string; data: any }[] = [];
    const open = async (last: string | undefined) => {
      asked.push(last);
      const res = await ctx.t.request(`/api/v1/sessions/${session}/chat/stream`, {
        method: 'POST',
        key: ADMIN_KEY,
        json: { message: 'console-reconnect go' },
        headers: last ? { 'Last-Event-ID': last } : {},
        signal: last ? done.signal : first.signal,
      });
      return last ? res : droppedAfter(res, 3);
    };
    await followStream(open, { signal: done.signal, onEvent: (e) => events.push(e) });
    first.abort();
    expect(asked).toHaveLength(2);
    expect(asked[0]).toBeUndefined();
    expect(asked[1]).toBe(events.find((e) => Number(e.id) === Number(asked[1]))?.id);
    // The Python seed's frames beside ours carry no id.
    const ids = events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i)); // consecutive: none lost, none twice
    expect(events.at(-1)!.event).toBe('result');
    expect(events.at(-1)!.data.status).toBe('ok');
    const text = events
      .filter((e) => e.event === 'text')
      .map((e) => e.data.text)
      .join('');
    expect(text).toBe('one two three four five six');
  });

  it('lists every pending approval and question in the inbox with a count, and answers them in place', async () => {
    // A user's session (another tenant) pauses a Write; the admin's own session asks a question.
    const userSession = 'user-inbox';
    const created = await ctx.t.request('/api/v1/sessions', {
      method: 'POST',
      key: KEYS[1],
      json: { name: userSession, permission_rules: { ask: ['Write'] } },
    });
    expect(created.status).toBe(201);
    ctx.model.script({
      match: 'inbox-write',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/inbox.txt', content: 'allowed from the inbox\n' } } },
        { text: 'Inbox write done.' },
      ],
    });
    ctx.model.script({
      match: 'inbox-ask',
      steps: [
        { tool: { name: 'AskUserQuestion', input: { questions: COLOR_QUESTIONS } } },
        { text: 'Inbox colour noted.' },
      ],
    });
    const write = await ctx.t.request(`/api/v1/sessions/${userSession}/chat`, {
      method: 'POST',
      key: KEYS[1],
      json: { message: 'inbox-write now' },
    });
    expect(write.status).toBe(202);
    const ask = await ctx.t.request('/api/v1/sessions/console-ask/chat', {
      method: 'POST',
      key: ADMIN_KEY,
      json: { message: 'inbox-ask now' },
    });
    expect(ask.status).toBe(202);
    // The user's listing names the owner the admin answers with.
    const mine = (await (await ctx.t.request('/api/v1/approvals', { key: KEYS[1] })).json()).data;
    expect(mine.map((a: { session: string; owner: string }) => [a.session, a.owner])).toEqual([
      [userSession, tenantOf(KEYS[1])],
    ]);

    await open('/');
    await expect.poll(() => page.locator('nav .count').textContent()).toBe('2');
    await page.getByRole('link', { name: 'Approvals' }).click();
    const item = (text: string) => page.locator('.inbox > li').filter({ hasText: text });
    await item(userSession).getByRole('button', { name: 'Allow' }).waitFor();
    await item('console-ask').getByRole('radio', { name: /Blue/ }).waitFor();
    await shot('approvals');
    // The admin acts for no tenant: the answer goes out with the session's owner as X-Tenant.
    const [answer] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && r.url().includes(`/sessions/${userSession}/approvals/`)),
      item(userSession).getByRole('button', { name: 'Allow' }).click(),
    ]);
    expect(answer.headers()['x-tenant']).toBe(tenantOf(KEYS[1]));
    await expect.poll(() => item(userSession).count()).toBe(0);
    await expect.poll(() => page.locator('nav .count').textContent()).toBe('1');
    const written = join(ctx.t.dirs.workspaces, tenantOf(KEYS[1]), userSession, 'inbox.txt');
    await eventually(() => existsSync(written), 60_000, 'the allowed Write');
    expect(readFileSync(written, 'utf8')).toBe('allowed from the inbox\n');
    await item('console-ask').getByRole('radio', { name: /Blue/ }).check();
    await item('console-ask').getByRole('button', { name: 'Answer' }).click();
    await page.getByText('Nothing waits for you.').waitFor();
    expect(await page.locator('nav .count').count()).toBe(0);
    await eventually(
      async () => {
        const h = await (
          await ctx.t.request('/api/v1/sessions/console-ask/history?limit=100', { key: ADMIN_KEY })
        ).json();
        return h.data.some((m: { content: string }) => m.content === 'Inbox colour noted.');
      },
      60_000,
      'the answered turn',
    );
    // A user key sees only its own: nothing waits now.
    expect((await (await ctx.t.request('/api/v1/approvals', { key: KEYS[1] })).json()).data).toEqual([]);

    // Answered elsewhere while the inbox still shows it (its refreshes held back): the click shows the 409 problem.
    const again = await ctx.t.request('/api/v1/sessions/console-ask/chat', {
      method: 'POST',
      key: ADMIN_KEY,
      json: { message: 'inbox-ask again' },
    });
    expect(again.status).toBe(202);
    const questionId: string = (await again.json()).data.pending[0].id;
    await page.evaluate('dispatchEvent(new Event("focus"))'); // refresh now rather than at the next poll
    await item('console-ask').getByRole('button', { name: 'Answer' }).waitFor();
    const stale = await (await ctx.t.request('/api/v1/approvals', { key: ADMIN_KEY })).text();
    await page.route('**/api/v1/approvals', (r) =>
      r.fulfill({ status: 200, contentType: 'application/json', body: stale }),
    );
    const elsewhere = await ctx.t.request(`/api/v1/sessions/console-ask/questions/${questionId}`, {
      method: 'POST',
      key: ADMIN_KEY,
      json: { decision: 'deny' },
    });
    expect(elsewhere.status).toBe(200);
    await item('console-ask').getByRole('radio', { name: /Red/ }).check();
    await item('console-ask').getByRole('button', { name: 'Answer' }).click();
    await expect.poll(() => item('console-ask').getByRole('alert').textContent()).toContain('409');
    await page.unroute('**/api/v1/approvals');
    await page.evaluate('dispatchEvent(new Event("focus"))');
    await page.getByText('Nothing waits for you.').waitFor();
  });

  it('an admin picks a tenant: every call carries X-Tenant, the header says so, sign-out forgets it', async () => {
    const userTenant = tenantOf(KEYS[1]);
    await open('/');
    const picker = page.getByRole('combobox', { name: /tenant/i });
    await expect.poll(() => picker.locator(`option[value="${userTenant}"]`).count()).toBe(1);
    expect(await picker.inputValue()).toBe('');
    // The admin view lists every tenant's sessions.
    await page.getByRole('link', { name: session, exact: true }).waitFor();
    const [listed] = await Promise.all([
      page.waitForRequest((r) => r.url().includes('/api/v1/sessions?')),
      picker.selectOption(userTenant),
    ]);
    expect(listed.headers()['x-tenant']).toBe(userTenant);
    await page.getByRole('link', { name: 'user-inbox', exact: true }).waitFor();
    await expect.poll(() => page.getByRole('link', { name: session, exact: true }).count()).toBe(0);
    await page.getByText('Acting for tenant').waitFor();
    await shot('tenant');
    // It holds across pages and a reload (for the tab), and the session of that tenant opens.
    await page.reload();
    expect(await page.getByRole('combobox', { name: /tenant/i }).inputValue()).toBe(userTenant);
    const [opened] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith('/api/v1/sessions/user-inbox')),
      page.getByRole('link', { name: 'user-inbox', exact: true }).click(),
    ]);
    expect(opened.headers()['x-tenant']).toBe(userTenant);
    await page.getByText('Inbox write done.').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.getByRole('textbox', { name: 'API key' }).fill(ADMIN_KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: session, exact: true }).waitFor();
    expect(await page.getByRole('combobox', { name: /tenant/i }).inputValue()).toBe('');
    expect(await page.getByText('Acting for tenant').count()).toBe(0);
  });

  it('a reopened session shows the tool outputs of every turn from its history, the older ones too', async () => {
    const name = 'console-reopen';
    const created = await ctx.t.request('/api/v1/sessions', { method: 'POST', key: ADMIN_KEY, json: { name } });
    expect(created.status).toBe(201);
    ctx.model.script({
      match: 'console-older-run',
      steps: [{ tool: { name: 'Bash', input: { command: 'echo older-output-17' } } }, { text: 'Ran the older echo.' }],
    });
    ctx.model.script({
      match: 'console-reopen-run',
      steps: [{ tool: { name: 'Bash', input: { command: 'echo reopened-output-42' } } }, { text: 'Ran the echo.' }],
    });
    for (const message of ['console-older-run first', 'console-reopen-run now']) {
      const ran = await ctx.t.request(`/api/v1/sessions/${name}/chat`, {
        method: 'POST',
        key: ADMIN_KEY,
        json: { message },
      });
      expect(ran.status).toBe(200);
    }
    await open(`/sessions/${name}`);
    await page.getByText('Ran the echo.').waitFor();
    for (const [command, output] of [
      ['echo older-output-17', 'older-output-17'],
      ['echo reopened-output-42', 'reopened-output-42'],
    ] as const) {
      const tool = page.locator('details.tool').filter({ hasText: command });
      await tool.locator('.good').waitFor();
      await tool.locator('summary').click();
      await expect.poll(() => tool.textContent()).toContain(`Result${output}`);
    }
    expect(await page.locator('details.tool').filter({ hasText: 'no result' }).count()).toBe(0);
    await shot('reopened');
  });

  it('works at phone width and reloads into the same page with the key kept for the tab', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await open(`/sessions/${session}`);
    await page.getByText('Written after approval.').waitFor();
    await shot('phone-session');
    const overflow = await page.evaluate<string>(
      `[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => e.tagName + '.' + e.className).slice(0, 5).join(' ')`,
    );
    expect(overflow).toBe('');
    expect(problems).toEqual([]);
  });
});

function tenantOf(key: string): string {
  return `k_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}
