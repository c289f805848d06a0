// Without the wall (WALL_ENABLED=false), fail closed: where the Bash sandbox cannot start (no bubblewrap on PATH), Bash is refused with the reason in health, and every other tool keeps working; SANDBOX_ENABLED=false is the operator's explicit opt-out.
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import type { TestServer } from '../support/server.js';
import { readSse } from '../support/sse.js';

// A PATH with the usual tools but without bubblewrap.
const bin = mkdtempSync(join(tmpdir(), 'cca-nobwrap-'));
mkdirSync(join(bin, 'bin'));
for (const tool of ['sh', 'bash', 'env', 'git', 'socat', 'cat', 'ls', 'touch']) {
  if (existsSync(`/usr/bin/${tool}`)) symlinkSync(`/usr/bin/${tool}`, join(bin, 'bin', tool));
}
// The path where the wall does not run (it is off here), so the Bash sandbox is all that confines Bash.
const ctx = useTestServer(
  { WALL_ENABLED: 'false', WALL_UNCONFINED_TENANTS: 'true' },
  { cliEnv: { PATH: join(bin, 'bin') } },
);
const statuses: number[] = [];

async function request(path: string, init: Parameters<TestServer['request']>[1] = {}) {
  const res = await ctx.t.request(path, init);
  statuses.push(res.status);
  return res;
}

beforeAll(async () => {
  expect((await request('/api/v1/sessions', { method: 'POST', json: { name: 'nobash' } })).status).toBe(201);
});

afterAll(() => {
  rmSync(bin, { recursive: true, force: true });
});

const health = async () => (await (await request('/api/v1/health')).json()).data;

describe('sandbox unavailable', () => {
  it('health says so, with the reason, and stays up', async () => {
    const res = await request('/api/v1/health');
    expect(res.status).toBe(200);
    const h = (await res.json()).data;
    expect(h.sandbox).toMatchObject({
      enabled: true,
      available: false,
      reason: expect.stringMatching(/bubblewrap|bwrap/),
    });
    expect(h.warnings.join('\n')).toMatch(/Bash is refused/);
  });

  it('keeps other tools working', async () => {
    ctx.model.script({
      match: 'write-it',
      steps: [{ tool: { name: 'Write', input: { file_path: '{{cwd}}/ok.txt', content: 'ok' } } }, { text: 'wrote it' }],
    });
    const res = await request('/api/v1/sessions/nobash/chat', { method: 'POST', json: { message: 'write-it' } });
    expect(res.status).toBe(200);
    const session = (await (await request('/api/v1/sessions/nobash')).json()).data;
    expect(existsSync(join(session.workspace, 'ok.txt'))).toBe(true);
  });

  it('refuses Bash: not offered to the model, and a call anyway never runs', async () => {
    const marker = join(ctx.t.dirs.root, 'bash-ran.txt');
    ctx.model.script({
      match: 'run-bash',
      steps: [{ tool: { name: 'Bash', input: { command: `touch ${marker}`, description: 'x' } } }, { text: 'tried' }],
    });
    const res = await request('/api/v1/sessions/nobash/chat/stream', { method: 'POST', json: { message: 'run-bash' } });
    expect(res.status).toBe(200);
    const events = await readSse(res).all();
    const session = events.find((e) => e.event === 'session');
    expect(session?.data.tools).not.toContain('Bash');
    expect(events.find((e) => e.event === 'tool_result')?.data.is_error).toBe(true);
    expect(events.at(-1)?.event).toBe('result');
    expect(existsSync(marker)).toBe(false);
    const sent = ctx.model.mainRequests().filter((r) => r.prompt?.includes('run-bash'));
    expect(sent[0]!.body.tools.map((tool: { name: string }) => tool.name)).not.toContain('Bash');
  });
});

describe('SANDBOX_ENABLED=false', () => {
  it('is reported as off, and Bash runs (unconfined: the operator chose it)', async () => {
    await ctx.t.restart({ SANDBOX_ENABLED: 'false' });
    expect((await health()).sandbox).toMatchObject({
      enabled: false,
      available: false,
      reason: expect.stringContaining('SANDBOX_ENABLED=false'),
    });
    const marker = join(ctx.t.dirs.root, 'bash-ran-unsandboxed.txt');
    ctx.model.script({
      match: 'run-free-bash',
      steps: [{ tool: { name: 'Bash', input: { command: `touch ${marker}`, description: 'x' } } }, { text: 'ran' }],
    });
    expect(
      (await request('/api/v1/sessions/nobash/chat', { method: 'POST', json: { message: 'run-free-bash' } })).status,
    ).toBe(200);
    expect(existsSync(marker)).toBe(true);
  });

  it('answered no 5xx', () => {
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
  });
});
