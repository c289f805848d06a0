// Templates through the real server and CLI: the routes, explicit > template > environment as the model sees it, reload and watch.
import { once } from 'node:events';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { tenantOf } from '../../src/security/api-keys.js';
import { startServer } from '../../src/server.js';
import type { TemplateFileError } from '../../src/templates/parse.js';
import { useTestServer } from '../support/fixture.js';
import type { LoggedRequest } from '../support/model-server.js';
import { KEYS } from '../support/server.js';

const ADMIN = 'test-admin-key-0003';
const TEMPLATE_PROMPT = 'TEMPLATE-PROMPT-7f3a';
const ENV_PROMPT = 'ENV-PROMPT-91c2';
const EXPLICIT_PROMPT = 'EXPLICIT-PROMPT-c4d1';

const USER_FILE = (templateModel: string) => `# user templates
templates:
  merge-check:
    description: for the merge test
    system_prompt: ${TEMPLATE_PROMPT}
    model: ${templateModel}
    max_turns: 5
    allowed_tools: [Read, Glob]
  docs:
    description: our own docs profile
`;

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cca-it-templates-')));
const file = join(dir, 'templates.yaml');
writeFileSync(file, USER_FILE('claude-template-model'));
const ctx = useTestServer({
  ADMIN_API_KEYS: ADMIN,
  TEMPLATES_PATH: file,
  TEMPLATES_WATCH: 'false',
  CLAUDE_MODEL: 'claude-env-model',
  CLAUDE_SYSTEM_PROMPT: ENV_PROMPT,
  CLAUDE_ALLOWED_PERMISSION_MODES: 'default,acceptEdits',
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function json(res: Response) {
  return { status: res.status, body: await res.json(), type: res.headers.get('content-type') };
}

async function postSession(body: Record<string, unknown>) {
  return json(await ctx.t.request('/api/v1/sessions', { method: 'POST', json: body }));
}

/** Chats once and returns the model request that opened the turn. */
async function chatAndSee(name: string, marker: string): Promise<LoggedRequest> {
  const res = await ctx.t.request(`/api/v1/sessions/${name}/chat`, {
    method: 'POST',
    json: { message: `${marker} hello` },
  });
  expect(res.status).toBe(200);
  return ctx.model.mainRequests().find((r) => r.prompt?.includes(marker))!;
}

const systemText = (r: LoggedRequest) => JSON.stringify(r.body.system);
const toolsOffered = (r: LoggedRequest) => (r.body.tools as Array<{ name: string }>).map((x) => x.name);

describe('template routes', () => {
  it('lists the shipped templates and the user file, which replaces one by name', async () => {
    const { status, body } = await json(await ctx.t.request('/api/v1/templates?limit=100'));
    expect(status).toBe(200);
    // A map keyed by name, in name order (as the Python seed lists them).
    const names = Object.keys(body.data);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b)));
    for (const [name, x] of Object.entries<{ name: string }>(body.data)) expect(x.name).toBe(name);
    expect(names).toHaveLength(13);
    expect(names).toEqual(
      expect.arrayContaining(['code-reviewer', 'security', 'architect', 'frontend', 'merge-check']),
    );
    expect(body.meta.pagination).toEqual({ page: 1, limit: 100, total: 13, pages: 1 });
    expect(body.pagination).toEqual(body.meta.pagination);
    // Without a query, one page holds them all (100 by default), as the seed listed them.
    const all = (await json(await ctx.t.request('/api/v1/templates'))).body;
    expect(Object.keys(all.data)).toEqual(names);
    expect(all.pagination).toEqual({ page: 1, limit: 100, total: 13, pages: 1 });
    expect((await ctx.t.request('/api/v1/templates?limit=101')).status).toBe(422);
    const docs = body.data.docs;
    expect(docs).toEqual({ name: 'docs', source: 'user', description: 'our own docs profile', warnings: [] });
    const page2 = (await json(await ctx.t.request('/api/v1/templates?limit=5&page=3'))).body;
    expect(Object.keys(page2.data)).toEqual(names.slice(10));
  });

  it('shows one template, and answers 404 / 422 / 401 as problems', async () => {
    const { body } = await json(await ctx.t.request('/api/v1/templates/code-reviewer'));
    expect(body.data).toMatchObject({
      name: 'code-reviewer',
      source: 'builtin',
      allowed_tools: ['Read', 'Glob', 'Grep'],
      effort: 'high',
    });
    expect(body.data.system_prompt).toContain('never modify');
    const missing = await json(await ctx.t.request('/api/v1/templates/no-such'));
    expect(missing.status).toBe(404);
    expect(missing.type).toContain('application/problem+json');
    expect((await ctx.t.request('/api/v1/templates/bad%20name')).status).toBe(422);
    expect((await ctx.t.request('/api/v1/templates', { key: null })).status).toBe(401);
  });

  it('flags a template whose permission mode the operator does not allow, and refuses it unless the session picks a mode', async () => {
    const architect = (await json(await ctx.t.request('/api/v1/templates/architect'))).body.data;
    expect(architect.permission_mode).toBe('plan');
    expect(architect.warnings.join(' ')).toContain('permission mode plan is not allowed');
    const refused = await postSession({ name: 'arch-1', template: 'architect' });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0]).toMatchObject({ location: 'body', pointer: '/template' });
    const created = await postSession({ name: 'arch-2', template: 'architect', permission_mode: 'default' });
    expect(created.status).toBe(201);
    expect(created.body.data.template).toBe('architect');
  });

  it('refuses an unknown template with 422 and creates nothing', async () => {
    const { status, body, type } = await postSession({ name: 'ghost', template: 'no-such-template' });
    expect(status).toBe(422);
    expect(type).toContain('application/problem+json');
    expect(body.type).toBe('/problems/unknown-template');
    expect(body.errors).toEqual([
      { location: 'body', pointer: '/template', message: expect.stringContaining('no-such-template') },
    ]);
    expect((await ctx.t.request('/api/v1/sessions/ghost')).status).toBe(404);
    expect(existsSync(join(ctx.t.dirs.workspaces, tenantOf(KEYS[0]), 'ghost'))).toBe(false);
    const all = (await json(await ctx.t.request('/api/v1/sessions'))).body.data.map((s: { name: string }) => s.name);
    expect(all).not.toContain('ghost');
  });
});

describe('explicit > template > environment, as the model receives it', () => {
  it('a template sets system prompt, model and tools over the environment', async () => {
    const { status, body } = await postSession({ name: 'tmpl-only', template: 'merge-check' });
    expect(status).toBe(201);
    expect(body.data).toMatchObject({ template: 'merge-check', options: {} });
    const sent = await chatAndSee('tmpl-only', 'merge-a');
    expect(sent.body.model).toBe('claude-template-model');
    expect(systemText(sent)).toContain(TEMPLATE_PROMPT);
    expect(systemText(sent)).not.toContain(ENV_PROMPT);
    const tools = toolsOffered(sent);
    expect(tools).toEqual(expect.arrayContaining(['Read', 'Glob']));
    expect(tools).not.toContain('Write');
    expect(tools).not.toContain('Bash');
  });

  it('explicit session options win over the template; what they leave unset still comes from it', async () => {
    const { status } = await postSession({
      name: 'tmpl-explicit',
      template: 'merge-check',
      model: 'claude-explicit-model',
      system_prompt: EXPLICIT_PROMPT,
    });
    expect(status).toBe(201);
    const sent = await chatAndSee('tmpl-explicit', 'merge-b');
    expect(sent.body.model).toBe('claude-explicit-model');
    expect(systemText(sent)).toContain(EXPLICIT_PROMPT);
    expect(systemText(sent)).not.toContain(TEMPLATE_PROMPT);
    const tools = toolsOffered(sent);
    expect(tools).toEqual(expect.arrayContaining(['Read', 'Glob']));
    expect(tools).not.toContain('Write');
  });

  it('without a template the environment applies', async () => {
    expect((await postSession({ name: 'no-tmpl' })).body.data.template).toBeNull();
    const sent = await chatAndSee('no-tmpl', 'merge-c');
    expect(sent.body.model).toBe('claude-env-model');
    expect(systemText(sent)).toContain(ENV_PROMPT);
    expect(toolsOffered(sent)).toEqual(expect.arrayContaining(['Read', 'Write']));
    // Bash is offered exactly when the OS sandbox runs here (without bubblewrap it is taken out of every session).
    const health = (await (await ctx.t.request('/api/v1/health')).json()).data;
    expect(toolsOffered(sent).includes('Bash')).toBe(health.sandbox.available);
  });
});

describe('reloading', () => {
  it('POST /templates/reload needs an admin key', async () => {
    const res = await json(await ctx.t.request('/api/v1/templates/reload', { method: 'POST' }));
    expect(res.status).toBe(403);
    expect(res.type).toContain('application/problem+json');
    expect((await ctx.t.request('/api/v1/templates/reload', { method: 'POST', key: null })).status).toBe(401);
  });

  it('picks up a changed file on reload, and a session follows its template from its next turn', async () => {
    writeFileSync(
      file,
      USER_FILE('claude-template-model-2').replace('templates:\n', 'templates:\n  added-later:\n    effort: low\n'),
    );
    // No watcher on this server: nothing changes until the reload.
    expect((await ctx.t.request('/api/v1/templates/added-later')).status).toBe(404);
    const { status, body } = await json(
      await ctx.t.request('/api/v1/templates/reload', { method: 'POST', key: ADMIN }),
    );
    expect(status).toBe(200);
    expect(body.data.count).toBe(14);
    expect(body.data.names).toContain('added-later');
    expect((await json(await ctx.t.request('/api/v1/templates/added-later'))).body.data).toMatchObject({
      effort: 'low',
      source: 'user',
    });
    const sent = await chatAndSee('tmpl-only', 'merge-d');
    expect(sent.body.model).toBe('claude-template-model-2');
  });

  it('refuses an invalid file with a problem naming the file and line, and keeps the previous set', async () => {
    writeFileSync(file, 'templates:\n  merge-check:\n    model: x\n  broken:\n    max_turns: lots\n');
    const { status, body, type } = await json(
      await ctx.t.request('/api/v1/templates/reload', { method: 'POST', key: ADMIN }),
    );
    expect(status).toBe(422);
    expect(type).toContain('application/problem+json');
    expect(body.type).toBe('/problems/invalid-templates');
    expect(body.detail).toContain(`${file} line 5, column 16`);
    expect(body.template_errors).toEqual([
      { file, line: 5, column: 16, path: 'templates.broken.max_turns', message: 'must be integer' },
    ]);
    const list = Object.keys((await json(await ctx.t.request('/api/v1/templates?limit=100'))).body.data);
    expect(list).toContain('added-later');
    expect(list).not.toContain('broken');
  });

  it('a session whose template is gone is refused with 409 instead of running without it', async () => {
    writeFileSync(file, 'templates: {}\n');
    expect((await ctx.t.request('/api/v1/templates/reload', { method: 'POST', key: ADMIN })).status).toBe(200);
    const res = await json(
      await ctx.t.request('/api/v1/sessions/tmpl-only/chat', { method: 'POST', json: { message: 'still there?' } }),
    );
    expect(res.status).toBe(409);
    expect(res.body.type).toBe('/problems/template-unavailable');
  });

  it('with TEMPLATES_WATCH a saved file is picked up by itself, and a bad save leaves the set as it was', async () => {
    await ctx.t.restart({ TEMPLATES_WATCH: 'true' });
    const templates = ctx.t.server.templates;
    let reloaded = once(templates, 'reloaded');
    writeFileSync(file, 'templates:\n  watched:\n    description: seen by the watcher\n');
    await reloaded;
    expect((await json(await ctx.t.request('/api/v1/templates/watched'))).body.data.description).toBe(
      'seen by the watcher',
    );

    const failed = once(templates, 'reload-failed');
    writeFileSync(file, 'templates:\n  watched: {}\n  other:\n    effort: [\n');
    const [err] = (await failed) as [TemplateFileError];
    expect(err.issues[0]!.file).toBe(file);
    expect((await json(await ctx.t.request('/api/v1/templates/watched'))).body.data.description).toBe(
      'seen by the watcher',
    );
    expect((await ctx.t.request('/api/v1/templates/other')).status).toBe(404);

    reloaded = once(templates, 'reloaded');
    writeFileSync(file, USER_FILE('claude-template-model'));
    await reloaded;
    expect((await ctx.t.request('/api/v1/templates/watched')).status).toBe(404);
    expect((await ctx.t.request('/api/v1/templates/merge-check')).status).toBe(200);
  });
});

describe('start-up', () => {
  it('refuses to start with an invalid templates file, naming its line', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'templates:\n  a:\n    colour: red\n');
    const config = loadConfig({
      LOG_LEVEL: 'silent',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      APPROVED_DIRECTORY: join(dir, 'ws'),
      TEMPLATES_PATH: bad,
    });
    await expect(startServer(config, { log: pino({ level: 'silent' }) })).rejects.toThrow(
      `${bad} line 3, column 5: templates.a.colour "colour" is not a known key`,
    );
  });

  it('keys of other tenants see the same templates', async () => {
    const res = await json(await ctx.t.request('/api/v1/templates/merge-check', { key: KEYS[1] }));
    expect(res.status).toBe(200);
  });
});
