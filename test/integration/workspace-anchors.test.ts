// Session folders swapped under the server (by a session's own Bash with the OS sandbox off, and by a racing process): the files API, MCP, /repo and chat refuse the folder by its anchor and never serve what the link points at.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/store/index.js';
import { useTestServer } from '../support/fixture.js';
import { createSession } from '../support/sessions.js';
import type { Step } from '../support/model-server.js';
import { KEYS } from '../support/server.js';
import { eventually } from '../support/wait.js';

// The wall and the OS sandbox are off so a session's Bash can reach its siblings: the anchor check must hold on its
// own (with the wall on, those swaps cannot happen at all: test/integration/wall.test.ts).
const ctx = useTestServer({ SANDBOX_ENABLED: 'false', WALL_ENABLED: 'false', WALL_UNCONFINED_TENANTS: 'true' });
const HOSTNAME = readFileSync('/etc/hostname', 'utf8').trim();

type Session = { id: string; workspace: string; working_dir: string };
let s1: Session;
let s2: Session;
let bob: Session;
let tenantDir: string;
let dbFile: string;
const mcp: Client[] = [];

/** One scripted turn on `session`; answers the HTTP status and body. */
async function chat(session: string, match: string, steps: Step[]): Promise<{ status: number; body: any }> {
  ctx.model.script({ match, steps: [...steps, { text: `finished ${match}` }] });
  const res = await ctx.t.request(`/api/v1/sessions/${session}/chat`, {
    method: 'POST',
    json: { message: `please ${match}` },
  });
  return { status: res.status, body: await res.json() };
}

const bash = (command: string): Step => ({ tool: { name: 'Bash', input: { command, description: 'swap' } } });

async function get(path: string): Promise<{ status: number; text: string }> {
  const res = await ctx.t.request(path);
  return { status: res.status, text: await res.text() };
}

async function mcpCall(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  if (mcp.length === 0) {
    const client = new Client({ name: 'anchor-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${ctx.t.url}/mcp`), {
        requestInit: { headers: { 'x-api-key': KEYS[0] } },
      }),
    );
    mcp.push(client);
  }
  return (await mcp[0]!.callTool({ name, arguments: args })) as CallToolResult;
}

/** Every files route and MCP's file tools on s2 answer 409 workspace-moved, never the content behind the swap. */
async function expectS2Refused(paths: string[]): Promise<void> {
  for (const path of paths) {
    const r = await get(`/api/v1/sessions/s2/files/${path}`);
    expect(r.status, `GET files/${path}: ${r.text}`).toBe(409);
    expect(JSON.parse(r.text)).toMatchObject({ type: '/problems/workspace-moved', status: 409 });
    // `instance` echoes the request path, whose random temp folder name may hold a short host name by chance.
    const { instance: _echoed, ...refusal } = JSON.parse(r.text) as Record<string, unknown>;
    expect(JSON.stringify(refusal)).not.toContain(HOSTNAME);
  }
  const list = await get('/api/v1/sessions/s2/files?path=etc');
  expect(list.status, list.text).toBe(409);
  const root = await get('/api/v1/sessions/s2/files');
  expect(root.status, root.text).toBe(409);
  const form = new FormData();
  form.append('file', new Blob(['planted']), 'planted.txt');
  const up = await ctx.t.request('/api/v1/sessions/s2/files?path=tmp/', { method: 'POST', body: form });
  expect(up.status).toBe(409);
  const del = await ctx.t.request('/api/v1/sessions/s2/files/tmp', { method: 'DELETE' });
  expect(del.status).toBe(409);
  const read = await mcpCall('read_file', { name: 's2', path: 'etc/hostname' });
  expect(read.isError).toBe(true);
  expect((read.structuredContent as { problem: { status: number; type: string } }).problem).toMatchObject({
    status: 409,
    type: '/problems/workspace-moved',
  });
  expect(JSON.stringify(read.content)).not.toContain(HOSTNAME);
  const listed = await mcpCall('list_files', { name: 's2', path: 'etc' });
  expect(listed.isError).toBe(true);
  const turn = await chat('s2', `s2-refused-${paths.length}-${Date.now()}`, [
    { tool: { name: 'Read', input: { file_path: '{{cwd}}/etc/hostname' } } },
  ]);
  expect(turn.status, JSON.stringify(turn.body)).toBe(409);
  expect(turn.body).toMatchObject({ type: '/problems/workspace-moved' });
  const stream = await ctx.t.request('/api/v1/sessions/s2/chat/stream', {
    method: 'POST',
    json: { message: 'stream on a swapped folder' },
  });
  expect(stream.status).toBe(409);
  expect(await stream.json()).toMatchObject({ type: '/problems/workspace-moved' });
  const job = await ctx.t.request('/api/v1/sessions/s2/jobs', {
    method: 'POST',
    json: { message: 'job on a swapped folder' },
  });
  expect(job.status).toBe(202);
  const jobId = (await job.json()).data.id;
  const done = await eventually(
    async () => {
      const j = (await (await ctx.t.request(`/api/v1/sessions/s2/jobs/${jobId}`)).json()).data;
      return ['failed', 'done', 'cancelled'].includes(j.status) ? j : undefined;
    },
    60_000,
    'the job to end',
  );
  expect(done).toMatchObject({ status: 'failed', error: { type: '/problems/workspace-moved' } });
}

/** Puts s2's own folder back where it was (the same inode): everything works again. */
function restoreS2(away: string): void {
  rmSync(s2.workspace, { recursive: true, force: true });
  renameSync(away, s2.workspace);
}

beforeAll(async () => {
  s1 = await createSession(ctx.t, 's1');
  s2 = await createSession(ctx.t, 's2');
  bob = await createSession(ctx.t, 'b1', {}, KEYS[1]);
  tenantDir = dirname(s1.workspace);
  writeFileSync(join(s2.workspace, 'hello.txt'), 'hello from s2\n');
  writeFileSync(join(bob.workspace, 'bob-secret.txt'), 'BOB-SECRET\n');
  const target = parseDatabaseUrl(ctx.t.config.databaseUrl);
  dbFile = target.dialect === 'sqlite' ? target.filename : '';
});

afterAll(async () => {
  for (const c of mcp) await c.close().catch(() => undefined);
});

describe('working_dir rules', () => {
  it('refuses a tenant folder, the root, and a folder that is or lies in another session (422, nothing made)', async () => {
    const sub = join(s2.workspace, 'inner');
    mkdirSync(sub);
    const refused = [tenantDir, ctx.t.dirs.workspaces, s2.workspace, sub, dirname(bob.workspace), bob.workspace, '.'];
    for (const working_dir of refused) {
      const res = await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name: 'nope', working_dir } });
      const body = await res.json();
      expect(res.status, `${working_dir}: ${JSON.stringify(body)}`).toBe(422);
      expect(body.errors[0].pointer).toBe('/working_dir');
      const repo = await ctx.t.request('/api/v1/sessions/s1/repo', { method: 'POST', json: { working_dir } });
      expect(repo.status, working_dir).toBe(422);
    }
    expect(existsSync(join(tenantDir, 'nope'))).toBe(false);
    rmSync(sub, { recursive: true });
    // A folder of the session's own, or one outside every tenant folder, is fine.
    mkdirSync(join(s1.workspace, 'project'));
    const own = await ctx.t.request('/api/v1/sessions/s1/repo', {
      method: 'POST',
      json: { working_dir: join(s1.workspace, 'project') },
    });
    expect(own.status).toBe(200);
    const back = await ctx.t.request('/api/v1/sessions/s1/repo', {
      method: 'POST',
      json: { working_dir: s1.workspace },
    });
    expect(back.status).toBe(200);
  });

  it('records the (device, inode) of the workspace and working directory', async () => {
    const row = await ctx.t.server.store.sessions.findById(s2.id);
    const st = lstatSync(s2.workspace, { bigint: true });
    expect(row).toMatchObject({
      workspace_dev: String(st.dev),
      workspace_ino: String(st.ino),
      working_dir_dev: String(st.dev),
      working_dir_ino: String(st.ino),
    });
  });
});

describe("a sibling's folder swapped by a session's Bash", () => {
  it('python3 os.symlink to /: files API, MCP and chat answer 409 and never serve /etc/hostname or the database', async () => {
    const away = `${s2.workspace}.bak`;
    const turn = await chat('s1', 'swap-python', [
      bash(`mv ${s2.workspace} ${away} && python3 -c "import os; os.symlink('/', '${s2.workspace}')" && echo swapped`),
    ]);
    expect(turn.status).toBe(200);
    expect(ctx.model.toolResultsSeen('swap-python')).toContain('swapped');
    expect(lstatSync(s2.workspace).isSymbolicLink()).toBe(true);
    await expectS2Refused(['etc/hostname', dbFile.slice(1), 'hello.txt']);
    restoreS2(away);
    const back = await get('/api/v1/sessions/s2/files/hello.txt');
    expect(back).toEqual({ status: 200, text: 'hello from s2\n' });
  });

  it('mv and mkdir (another real folder under the name): 409, the impostor is never served', async () => {
    const away = `${s2.workspace}.old`;
    const turn = await chat('s1', 'swap-mv-mkdir', [
      bash(
        `mv ${s2.workspace} ${away} && mkdir ${s2.workspace} && echo impostor > ${s2.workspace}/hello.txt && echo swapped`,
      ),
    ]);
    expect(turn.status).toBe(200);
    await expectS2Refused(['hello.txt']);
    restoreS2(away);
    expect((await get('/api/v1/sessions/s2/files/hello.txt')).text).toBe('hello from s2\n');
  });

  it("ln -s to another tenant's workspace: 409, the other tenant's file is never served", async () => {
    const away = `${s2.workspace}.ln`;
    const turn = await chat('s1', 'swap-ln', [
      bash(`mv ${s2.workspace} ${away}; ln -s ${bob.workspace} ${s2.workspace}; echo swapped`),
    ]);
    expect(turn.status).toBe(200);
    await expectS2Refused(['bob-secret.txt']);
    restoreS2(away);
  });

  it("a session whose own folder is swapped mid-turn: the guard's root no longer opens, so its Read is denied", async () => {
    const away = `${s2.workspace}.mid`;
    const turn = await chat('s2', 'swap-self', [
      bash(
        `python3 -c "import os; os.rename('${s2.workspace}', '${away}'); os.symlink('/', '${s2.workspace}')" && echo swapped`,
      ),
      { tool: { name: 'Read', input: { file_path: `${s2.workspace}/etc/hostname` } } },
      { tool: { name: 'Read', input: { file_path: `/${s2.workspace}//etc/hostname` } } },
    ]);
    expect(turn.status, JSON.stringify(turn.body)).toBe(200);
    expect(turn.body.data.denials.map((d: { tool: string }) => d.tool)).toEqual(['Read', 'Read']);
    expect(turn.body.data.denials[0].reason).toMatch(/no longer the folder made for this session/);
    expect(ctx.model.toolResultsSeen('swap-self')).not.toContain(HOSTNAME);
    restoreS2(away);
  });
});

describe('a racing process flipping the folder between itself and a link to /', () => {
  it('every answer is the real file or a refusal; never /etc/hostname', async () => {
    const away = `${s2.workspace}.flip`;
    const script = [
      'import os, sys',
      `ws, away = ${JSON.stringify(s2.workspace)}, ${JSON.stringify(away)}`,
      'for i in range(int(sys.argv[1])):',
      '    os.rename(ws, away); os.symlink("/", ws)',
      '    os.unlink(ws); os.rename(away, ws)',
    ].join('\n');
    const flipper = spawn('python3', ['-c', script, '3000'], { stdio: 'ignore' });
    const ended = new Promise<number | null>((resolve) => flipper.on('exit', resolve));
    let running = true;
    void ended.then(() => (running = false));
    const seen = new Map<number, number>();
    let requests = 0;
    while (running || requests < 20) {
      const [file, host] = await Promise.all([
        get('/api/v1/sessions/s2/files/hello.txt'),
        get('/api/v1/sessions/s2/files/etc/hostname'),
      ]);
      requests++;
      for (const r of [file, host]) seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
      if (file.status === 200) expect(file.text).toBe('hello from s2\n');
      // Refused: gone for an instant (404), swapped (409), or moved away while it was being read (422).
      else expect([404, 409, 422]).toContain(file.status);
      expect([404, 409, 422]).toContain(host.status);
      expect(host.text).not.toContain(HOSTNAME);
    }
    expect(await ended).toBe(0);
    expect(lstatSync(s2.workspace).isDirectory()).toBe(true);
    expect(seen.get(409) ?? 0).toBeGreaterThan(0);
    expect((await get('/api/v1/sessions/s2/files/hello.txt')).status).toBe(200);
  });
});

describe('sessions made before anchors were recorded', () => {
  it('get their anchor recorded on first open when the folder is still a real folder where it should be', async () => {
    const s3 = await createSession(ctx.t, 's3');
    const unset = { workspace_dev: null, workspace_ino: null, working_dir_dev: null, working_dir_ino: null };
    await ctx.t.server.store.sessions.update(s3.id, unset);
    expect((await get('/api/v1/sessions/s3/files')).status).toBe(200);
    const st = lstatSync(s3.workspace, { bigint: true });
    expect(await ctx.t.server.store.sessions.findById(s3.id)).toMatchObject({
      workspace_dev: String(st.dev),
      workspace_ino: String(st.ino),
    });
  });

  it('and their guard compares with the anchor recorded at launch: a folder swapped for another mid-turn is refused', async () => {
    const s5 = await createSession(ctx.t, 's5');
    const unset = { workspace_dev: null, workspace_ino: null, working_dir_dev: null, working_dir_ino: null };
    await ctx.t.server.store.sessions.update(s5.id, unset);
    writeFileSync(join(s5.workspace, 'mine.txt'), 'MINE\n');
    const away = `${s5.workspace}.away`;
    const turn = await chat('s5', 'old-row-swap', [
      { tool: { name: 'Read', input: { file_path: `${s5.workspace}/mine.txt` } } },
      bash(
        `python3 -c "import os; os.rename('${s5.workspace}', '${away}'); os.mkdir('${s5.workspace}'); open('${s5.workspace}/mine.txt', 'w').write('IMPOSTOR')"`,
      ),
      { tool: { name: 'Read', input: { file_path: `${s5.workspace}/mine.txt` } } },
    ]);
    expect(turn.status, JSON.stringify(turn.body)).toBe(200);
    expect(turn.body.data.denials.map((d: { tool: string }) => d.tool)).toEqual(['Read']);
    const seen = ctx.model.toolResultsSeen('old-row-swap');
    expect(seen).toContain('MINE');
    expect(seen).not.toContain('IMPOSTOR');
  });

  it('are refused (and nothing recorded) when the folder is a link by then', async () => {
    const s4 = await createSession(ctx.t, 's4');
    const unset = { workspace_dev: null, workspace_ino: null, working_dir_dev: null, working_dir_ino: null };
    await ctx.t.server.store.sessions.update(s4.id, unset);
    rmSync(s4.workspace, { recursive: true });
    const { symlinkSync } = await import('node:fs');
    symlinkSync('/', s4.workspace);
    const r = await get('/api/v1/sessions/s4/files/etc/hostname');
    expect(r.status).toBe(409);
    expect((await ctx.t.server.store.sessions.findById(s4.id))?.workspace_ino).toBeNull();
    const turn = await chat('s4', 'old-swapped', [{ tool: { name: 'Read', input: { file_path: 'etc/hostname' } } }]);
    expect(turn.status).toBe(409);
    expect(ctx.model.toolResultsSeen('old-swapped')).toBe('');
  });
});
