// Hostile tool calls through the real CLI where the wall does not run (test/integration/wall.test.ts covers the wall): file tools outside the workspace (denied by the guard, recorded), Bash contained by the OS sandbox (writes, reads of other tenants, the database, transcripts, env secrets, loopback network).
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { plantHostileTree, type HostileTree } from '../support/hostile-tree.js';
import type { Step } from '../support/model-server.js';
import { SessionTmpDirs } from '../../src/engine/sandbox.js';
import { cliProcesses } from '../support/processes.js';
import { needs } from '../support/needs.js';
import { KEYS, type TestServer } from '../support/server.js';
import { readSse } from '../support/sse.js';
import { eventually } from '../support/wait.js';

/** Fake secrets in the environment the server hands (filtered) to Claude Code: none may reach the ctx.model. */
const SECRETS = {
  API_KEYS: KEYS.join(','),
  ADMIN_API_KEYS: 'admin-key-FAKE-ADMIN-SECRET-31337',
  DATABASE_URL: 'postgres://app:FAKE-DB-PASSWORD-4242@db.internal:5432/app',
  WEBHOOK_SECRET: 'whsec_RkFLRS1XRUJIT09LLVNFQ1JFVC1WQUxVRQ==',
  REDIS_URL: 'redis://:FAKE-REDIS-PASSWORD-77@cache:6379',
  MY_SERVICE_TOKEN: 'FAKE-SERVICE-TOKEN-8080',
};
const SECRET_VALUES = [
  'test-key-alpha-0001',
  'test-key-bravo-0002',
  'FAKE-ADMIN-SECRET-31337',
  'FAKE-DB-PASSWORD-4242',
  'RkFLRS1XRUJIT09LLVNFQ1JFVC1WQUxVRQ',
  'FAKE-REDIS-PASSWORD-77',
  'FAKE-SERVICE-TOKEN-8080',
];
/** Content planted where the model must never see it (written straight to disk or the database, never through the model). */
const FOREIGN = [
  'OUTSIDE-FILE-CONTENT',
  'OTHER-TENANT-FILE-CONTENT',
  'OTHER-SESSION-FILE-CONTENT',
  'TRANSCRIPT-PLANTED-CONTENT',
  'DATABASE-PLANTED-CONTENT',
  'root:x:0:0',
];

// The path where the wall cannot run (test/integration/wall.test.ts covers the wall): the hook and the Bash sandbox.
const ctx = useTestServer({ WALL_ENABLED: 'false', WALL_UNCONFINED_TENANTS: 'true' }, { cliEnv: SECRETS });
const statuses: number[] = [];
let alpha: HostileTree['alpha'];
let beta: HostileTree['beta'];
let other: HostileTree['other'];
let outside: string;

async function request(path: string, init: Parameters<TestServer['request']>[1] = {}) {
  const res = await ctx.t.request(path, init);
  statuses.push(res.status);
  return res;
}

/** Runs one scripted turn on session alpha and returns the chat result. */
async function turn(match: string, steps: Step[]) {
  ctx.model.script({ match, steps: [...steps, { text: `finished ${match}` }] });
  const res = await request('/api/v1/sessions/alpha/chat', { method: 'POST', json: { message: `please ${match}` } });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.data;
}

/** Everything the model was ever sent. */
const allSent = () => ctx.model.requests.map((r) => JSON.stringify(r.body ?? '')).join('\n');

const bash = (command: string, extra: Record<string, unknown> = {}): Step => ({
  tool: { name: 'Bash', input: { command, description: 'hostile', ...extra } },
});

beforeAll(async () => {
  ({ alpha, beta, other, outside } = await plantHostileTree(ctx.t, 'session.jsonl'));
  await ctx.t.server.store.messages.insert({
    session_id: other.id,
    turn_id: 'planted',
    role: 'user',
    content: 'DATABASE-PLANTED-CONTENT',
  });
});

describe('file tools outside the workspace are denied (first call on a fresh config dir)', () => {
  it('Read /etc/passwd: denied, the model told why, the denial on the result', async () => {
    const d = await turn('read-etc-passwd', [{ tool: { name: 'Read', input: { file_path: '/etc/passwd' } } }]);
    expect(d.denials).toEqual([
      {
        tool: 'Read',
        input: { file_path: '/etc/passwd' },
        reason: expect.stringContaining('Access denied by the workspace policy'),
      },
    ]);
    expect(d.tools_used[0]).toMatchObject({ name: 'Read', denied: expect.stringContaining('/etc/passwd') });
    const seen = ctx.model.toolResultsSeen('read-etc-passwd');
    expect(seen).toContain('Access denied by the workspace policy');
    expect(seen).not.toContain('root:x:0:0');
  });

  it('Read through .. and Write ../../escape: denied, nothing written', async () => {
    const d = await turn('dotdot-escape', [
      { tool: { name: 'Read', input: { file_path: '../../../../../../etc/passwd' } } },
      { tool: { name: 'Write', input: { file_path: '../../escape.txt', content: 'escaped' } } },
    ]);
    expect(d.denials.map((x: { tool: string }) => x.tool)).toEqual(['Read', 'Write']);
    expect(existsSync(join(alpha.workspace, '..', '..', 'escape.txt'))).toBe(false);
  });

  it('Write through symlinks out of the workspace (to a folder, to a file, dangling): denied, nothing changed outside', async () => {
    symlinkSync(outside, join(alpha.workspace, 'out-dir'));
    symlinkSync(join(outside, 'secret.txt'), join(alpha.workspace, 'out-file'));
    symlinkSync(join(outside, 'created-by-link.txt'), join(alpha.workspace, 'out-dangling'));
    const d = await turn('write-symlinks', [
      { tool: { name: 'Write', input: { file_path: '{{cwd}}/out-dir/pwned.txt', content: 'pwned' } } },
      { tool: { name: 'Write', input: { file_path: 'out-file', content: 'pwned' } } },
      { tool: { name: 'Write', input: { file_path: 'out-dangling', content: 'pwned' } } },
      { tool: { name: 'Read', input: { file_path: 'out-file' } } },
    ]);
    // Writing over the existing out-file is refused by Claude Code itself first (never read); the other three by the guard.
    expect(
      d.denials.map((x: { tool: string; input: { file_path: string } }) => `${x.tool} ${x.input.file_path}`),
    ).toEqual([
      expect.stringMatching(/^Write .*out-dir\/pwned\.txt$/),
      expect.stringMatching(/^Write .*out-dangling$/),
      expect.stringMatching(/^Read .*out-file$/),
    ]);
    expect(existsSync(join(outside, 'pwned.txt'))).toBe(false);
    expect(existsSync(join(outside, 'created-by-link.txt'))).toBe(false);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('OUTSIDE-FILE-CONTENT\n');
  });

  it('Edit a file outside: refused, unchanged; and a file read inside, then swapped for a link out, is denied at the Edit', async () => {
    await turn('edit-outside', [
      {
        tool: {
          name: 'Edit',
          input: { file_path: join(outside, 'secret.txt'), old_string: 'OUTSIDE', new_string: 'EDITED' },
        },
      },
    ]);
    expect(ctx.model.toolResultsSeen('edit-outside')).toContain('is_error');
    writeFileSync(join(alpha.workspace, 'notes.txt'), 'inside notes\n');
    await turn('read-notes', [{ tool: { name: 'Read', input: { file_path: 'notes.txt' } } }]);
    rmSync(join(alpha.workspace, 'notes.txt'));
    symlinkSync(join(outside, 'secret.txt'), join(alpha.workspace, 'notes.txt'));
    const d = await turn('edit-swapped', [
      { tool: { name: 'Edit', input: { file_path: 'notes.txt', old_string: 'OUTSIDE', new_string: 'EDITED' } } },
    ]);
    expect(d.denials).toEqual([
      expect.objectContaining({
        tool: 'Edit',
        reason: expect.stringContaining("through the symbolic link 'notes.txt'"),
      }),
    ]);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('OUTSIDE-FILE-CONTENT\n');
  });

  it("Glob / and Grep in another session's and another tenant's workspace: denied; the denial reaches SSE clients as an error tool_result", async () => {
    ctx.model.script({
      match: 'glob-and-grep',
      steps: [
        { tool: { name: 'Glob', input: { pattern: '/*' } } },
        { tool: { name: 'Glob', input: { pattern: '**/*', path: '/' } } },
        { tool: { name: 'Grep', input: { pattern: 'CONTENT', path: beta.workspace } } },
        { tool: { name: 'Grep', input: { pattern: 'CONTENT', path: other.workspace, output_mode: 'content' } } },
        { text: 'finished glob-and-grep' },
      ],
    });
    const res = await request('/api/v1/sessions/alpha/chat/stream', {
      method: 'POST',
      json: { message: 'please glob-and-grep' },
    });
    expect(res.status).toBe(200);
    const events = await readSse(res).all();
    const results = events.filter((e) => e.event === 'tool_result');
    expect(results).toHaveLength(4);
    for (const r of results) {
      expect(r.data.is_error).toBe(true);
      expect(r.data.output).toContain('Access denied by the workspace policy');
    }
    const result = events.find((e) => e.event === 'result')!.data;
    expect(result.denials.map((x: { tool: string }) => x.tool)).toEqual(['Glob', 'Glob', 'Grep', 'Grep']);
    expect(ctx.model.toolResultsSeen('glob-and-grep')).not.toMatch(
      /OTHER-(SESSION|TENANT)-FILE-CONTENT|tenant-b\.txt|beta\.txt/,
    );
  });

  it('records the denials in history (tools_used[].denied)', async () => {
    const res = await request('/api/v1/sessions/alpha/history?limit=100');
    const rows = (await res.json()).data as Array<{
      role: string;
      tools_used: Array<{ name: string; denied?: string }> | null;
    }>;
    const denied = rows.flatMap((r) => r.tools_used ?? []).filter((u) => u.denied);
    expect(denied.length).toBeGreaterThanOrEqual(11);
    expect(denied.map((u) => u.name)).toEqual(expect.arrayContaining(['Read', 'Write', 'Edit', 'Glob', 'Grep']));
  });

  it('puts every denial in the audit trail', async () => {
    const rows = await eventually(
      async () => {
        const res = await request('/api/v1/audit?action=tool.deny&limit=100');
        const data = (await res.json()).data as Array<{ outcome: string; detail: { tool: string; reason: string } }>;
        return data.length >= 11 ? data : undefined;
      },
      10_000,
      'the denial audit rows',
    );
    expect(rows.every((r) => r.outcome === 'denied' && r.detail.reason.length > 0)).toBe(true);
    expect(rows.map((r) => r.detail.tool)).toEqual(expect.arrayContaining(['Read', 'Write', 'Edit', 'Glob', 'Grep']));
  });
});

const noBubblewrap = await needs('the Bash sandbox tests', 'bubblewrap');

describe.skipIf(noBubblewrap)('Bash runs in the OS sandbox', () => {
  it('works normally inside the workspace (write, read, a temp file)', async () => {
    await turn('bash-inside', [
      bash('echo inside-ok > inside.txt && cat inside.txt && f=$(mktemp) && echo tmp-ok > "$f" && cat "$f"'),
    ]);
    expect(readFileSync(join(alpha.workspace, 'inside.txt'), 'utf8')).toBe('inside-ok\n');
    expect(ctx.model.toolResultsSeen('bash-inside')).toContain('tmp-ok');
  });

  it('cannot write outside the workspace, not even with dangerouslyDisableSandbox', async () => {
    const marker = `cca-bash-escape-${process.pid}-${Date.now()}`;
    await turn('bash-write-outside', [
      bash(
        `echo pwned > ${outside}/bash-pwned.txt; echo pwned > /tmp/${marker}; echo pwned > ${beta.workspace}/planted.txt; echo pwned > ${ctx.t.dirs.data}/planted.txt; echo attempted`,
      ),
      bash(`echo pwned > /tmp/${marker}-2; echo attempted`, { dangerouslyDisableSandbox: true }),
    ]);
    for (const p of [
      join(outside, 'bash-pwned.txt'),
      `/tmp/${marker}`,
      `/tmp/${marker}-2`,
      join(beta.workspace, 'planted.txt'),
      join(ctx.t.dirs.data, 'planted.txt'),
    ]) {
      expect(existsSync(p), p).toBe(false);
    }
  });

  it("cannot read other tenants' and sessions' files, the database or the CLI's transcripts", async () => {
    const data = ctx.t.dirs.data;
    await turn('bash-read-foreign', [
      bash(
        `cat ${other.workspace}/tenant-b.txt; cat ${beta.workspace}/beta.txt; ls -la ${ctx.t.dirs.workspaces}; echo end`,
      ),
      bash(`cat ${data}/*.db ${data}/*.db-wal 2>&1 | strings | grep -i planted; ls -la ${data}; echo end`),
      bash(
        `grep -r "PLANTED" ${ctx.t.cli.configDir}; cat ${ctx.t.cli.configDir}/projects/planted/session.jsonl; ls -R ${ctx.t.cli.configDir} | head -50; echo end`,
      ),
    ]);
    const seen = ctx.model.toolResultsSeen('bash-read-foreign');
    expect(seen).toContain('end');
    for (const f of FOREIGN) expect(seen).not.toContain(f);
  });

  it('gets no server secret and no Claude credential in its environment', async () => {
    await turn('bash-env', [
      bash('env; echo ---; printenv API_KEYS DATABASE_URL WEBHOOK_SECRET ANTHROPIC_API_KEY; echo env-end'),
    ]);
    const seen = ctx.model.toolResultsSeen('bash-env');
    expect(seen).toContain('env-end');
    expect(seen).toContain('PATH=');
    for (const name of [
      'API_KEYS=',
      'ADMIN_API_KEYS=',
      'DATABASE_URL=',
      'WEBHOOK_SECRET=',
      'REDIS_URL=',
      'MY_SERVICE_TOKEN=',
      'ANTHROPIC_API_KEY=',
    ])
      expect(seen).not.toContain(name);
    // The Claude Code process itself got the allow-listed environment only.
    const processes = cliProcesses({ under: ctx.t.dirs.data });
    expect(processes.length).toBeGreaterThan(0);
    for (const p of processes) {
      const environ = readFileSync(`/proc/${p.pid}/environ`, 'utf8');
      expect(environ).toContain('ANTHROPIC_API_KEY=');
      for (const secret of SECRET_VALUES) expect(environ).not.toContain(secret);
    }
  });

  it('cannot reach loopback services (the model server, the API itself)', async () => {
    const modelPort = new URL(ctx.model.url).port;
    await turn('bash-curl', [
      bash(
        `curl -s -m 5 http://127.0.0.1:${modelPort}/api/hello; echo rc=$?; curl -s -m 5 ${ctx.t.url}/api/v1/health; echo rc=$?`,
      ),
    ]);
    const seen = ctx.model.toolResultsSeen('bash-curl');
    expect(seen).toMatch(/rc=[1-9]/);
    expect(seen).not.toContain('"message":"hello"');
    expect(seen).not.toContain('uptime_seconds');
    expect(ctx.model.requests.filter((r) => r.path === '/api/hello')).toHaveLength(0);
  });
});

describe('workspace-controlled settings', () => {
  it('does not load a .claude/settings.json planted in the workspace: its hooks never run on the host', async () => {
    const marker = join(ctx.t.dirs.root, 'project-hook-ran');
    mkdirSync(join(beta.workspace, '.claude'), { recursive: true });
    writeFileSync(
      join(beta.workspace, '.claude', 'settings.json'),
      JSON.stringify({
        hooks: {
          PreToolUse: [{ matcher: '*', hooks: [{ type: 'command', command: `touch ${marker}` }] }],
          UserPromptSubmit: [{ hooks: [{ type: 'command', command: `touch ${marker}-prompt` }] }],
        },
      }),
    );
    writeFileSync(
      join(beta.workspace, '.claude', 'settings.local.json'),
      JSON.stringify({ hooks: { Stop: [{ hooks: [{ type: 'command', command: `touch ${marker}-stop` }] }] } }),
    );
    writeFileSync(join(beta.workspace, 'plain.txt'), 'plain\n');
    ctx.model.script({
      match: 'beta-reads',
      steps: [{ tool: { name: 'Read', input: { file_path: 'plain.txt' } } }, { text: 'read it' }],
    });
    const res = await request('/api/v1/sessions/beta/chat', { method: 'POST', json: { message: 'beta-reads' } });
    expect(res.status).toBe(200);
    for (const suffix of ['', '-prompt', '-stop']) expect(existsSync(marker + suffix), marker + suffix).toBe(false);
  });
});

describe('subagents', () => {
  it("are guarded too: a subagent's Read outside the workspace is denied", async () => {
    await ctx.t.restart({ CLAUDE_ALLOWED_TOOLS: 'Read,Write,Edit,Glob,Grep,Bash,Agent,Task' });
    ctx.model.script({
      match: 'subagent-reads-passwd',
      steps: [{ tool: { name: 'Read', input: { file_path: '/etc/passwd' } } }, { text: 'sub done' }],
    });
    await turn('spawn-subagent', [
      {
        tool: {
          name: 'Agent',
          input: { description: 'look around', prompt: 'subagent-reads-passwd now', subagent_type: 'general-purpose' },
        },
      },
    ]);
    const followUp = await ctx.model.waitFor(
      (r) => r.kind === 'main' && r.prompt?.includes('subagent-reads-passwd') === true && (r.step ?? 0) > 0,
    );
    const seen = JSON.stringify(followUp.body.messages);
    expect(seen).toContain('Access denied by the workspace policy');
    expect(seen).not.toContain('root:x:0:0');
  });
});

describe('across all of it', () => {
  it('no secret and no foreign content ever reached the model', () => {
    const sent = allSent();
    for (const s of [...SECRET_VALUES, ...FOREIGN]) expect(sent, s).not.toContain(s);
  });

  it('answered no 5xx', () => {
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });

  it.skipIf(noBubblewrap)('health reports the sandbox running', async () => {
    const res = await request('/api/v1/health');
    const health = (await res.json()).data;
    expect(health.sandbox).toEqual({ enabled: true, available: true, reason: null, network: false });
  });

  it("removes the sessions' temporary folders when the server stops", async () => {
    const root = new SessionTmpDirs(ctx.t.config.dataDir).root;
    expect(existsSync(root)).toBe(true);
    await ctx.t.stop();
    expect(existsSync(root)).toBe(false);
  });
});
