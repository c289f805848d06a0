// The process supervisor: a stalled turn and a process past its memory ceiling end in clear problems, their processes go, and how they ended is counted.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { needs } from '../support/needs.js';
import { promptTexts } from '../support/model-server.js';
import { cliProcesses, waitForNoOwnedProcesses } from '../support/processes.js';
import { createSession } from '../support/sessions.js';

const f = useTestServer({ TURN_STALL_SECONDS: '3', CLAUDE_TIMEOUT_SECONDS: '120' });
// A ceiling far below what any Claude Code process uses: the CLI "balloons" past it as soon as it runs.
const tiny = useTestServer({ CLI_MAX_RSS_MB: '20', CLAUDE_TIMEOUT_SECONDS: '120' });

// A "CLI" that answers --version (so the server starts) but fails at once when started for a session.
const brokenDir = mkdtempSync(join(tmpdir(), 'cc-api-broken-cli-'));
const brokenCli = join(brokenDir, 'claude');
writeFileSync(
  brokenCli,
  '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "2.0.0 (Claude Code)"; exit 0; fi\necho "scripted start failure" >&2\nexit 3\n',
);
chmodSync(brokenCli, 0o755);
// Above an idle CLI (~200–300 MiB), below the CLI with what its turn left running in the background.
/** The growing process is started with Bash, which runs only in the sandbox (bubblewrap). */
const noBash = await needs('the idle memory ceiling test (it grows a process with Bash)', 'bubblewrap');
const roomy = useTestServer({ CLI_MAX_RSS_MB: '600', CLAUDE_TIMEOUT_SECONDS: '120' });
const broken = useTestServer({ CLAUDE_CLI_PATH: brokenCli });
afterAll(() => rmSync(brokenDir, { recursive: true, force: true }));

/** Waits until /metrics counts an ended process like `pattern` (a process gone from /proc may not have been reaped yet). */
async function counted(t: typeof f.t, pattern: RegExp): Promise<void> {
  await expect.poll(async () => (await t.request('/metrics')).text(), { timeout: 30_000 }).toMatch(pattern);
}

describe('stall watchdog', () => {
  it('a model that stops streaming mid-turn ends the turn as stalled; its process goes; the next turn resumes', async () => {
    const { t, model } = f;
    await createSession(t, 'st');
    const before = await t.request('/api/v1/sessions/st/chat', {
      method: 'POST',
      json: { message: 'before the stall' },
    });
    expect(before.status).toBe(200);
    model.script({ match: 'stall-here', steps: [{ stall: 'I will now go quiet' }] });

    const started = Date.now();
    const res = await t.request('/api/v1/sessions/st/chat', { method: 'POST', json: { message: 'stall-here' } });
    expect(res.status).toBe(504);
    const problem = await res.json();
    expect(problem).toMatchObject({ type: '/problems/stalled', status: 504, title: 'Claude Code stalled' });
    expect(problem.detail).toContain('TURN_STALL_SECONDS');
    // Stopped by the watchdog, long before the turn's own time limit.
    expect(Date.now() - started).toBeLessThan(60_000);
    await waitForNoOwnedProcesses(t.dirs.data, 30_000);

    const after = await t.request('/api/v1/sessions/st/chat', { method: 'POST', json: { message: 'after the stall' } });
    expect(after.status).toBe(200);
    expect(promptTexts(model.mainRequests().at(-1)!)).toContain('before the stall');
    const history = (await (await t.request('/api/v1/sessions/st/history?limit=100')).json()).data;
    expect(
      history.filter((r: { role: string; status: string }) => r.role === 'assistant' && r.status === 'error'),
    ).toHaveLength(1);
    await counted(t, /cca_cli_process_exits_total\{reason="stalled",status="[^"]+"\} 1/);
  });

  it('an idle CLI killed from outside is counted as crashed, and the next turn resumes', async () => {
    const { t, model } = f;
    const live = cliProcesses({ under: t.dirs.data });
    expect(live).toHaveLength(1);
    process.kill(live[0]!.pid, 'SIGKILL');
    await waitForNoOwnedProcesses(t.dirs.data, 30_000);
    await counted(t, /cca_cli_process_exits_total\{reason="crashed"/);
    const next = await t.request('/api/v1/sessions/st/chat', { method: 'POST', json: { message: 'after the kill' } });
    expect(next.status).toBe(200);
    expect(promptTexts(model.mainRequests().at(-1)!)).toContain('after the stall');
  });
});

describe('memory ceiling', () => {
  it('a busy process past CLI_MAX_RSS_MB is ended, and its turn fails with memory-exceeded', async () => {
    const { t, model } = tiny;
    await createSession(t, 'big');
    model.script({ match: 'balloon', steps: [{ hang: true }] });
    const res = await t.request('/api/v1/sessions/big/chat', { method: 'POST', json: { message: 'balloon' } });
    expect(res.status).toBe(502);
    const problem = await res.json();
    expect(problem).toMatchObject({ type: '/problems/memory-exceeded', title: 'Claude Code used too much memory' });
    expect(problem.detail).toContain('CLI_MAX_RSS_MB');
    await waitForNoOwnedProcesses(t.dirs.data, 30_000);
    await counted(t, /cca_cli_process_exits_total\{reason="memory",status="[^"]+"\} 1/);
  });
});

describe('memory ceiling of an idle process', () => {
  it.skipIf(noBash)(
    'an idle process that grows past CLI_MAX_RSS_MB is recycled, and the next turn resumes',
    async () => {
      const { t, model } = roomy;
      await createSession(t, 'grows');
      // The turn leaves a background command that starts to hold 700 MiB well after the turn has ended.
      const command = `(sleep 15; python3 -c "b = b'x' * (700 * 1024 * 1024); import time; time.sleep(120)") >/dev/null 2>&1 &`;
      model.script({
        match: 'grow-later',
        steps: [{ tool: { name: 'Bash', input: { command, description: 'grow' } } }, { text: 'left it running' }],
      });
      const res = await t.request('/api/v1/sessions/grows/chat', { method: 'POST', json: { message: 'grow-later' } });
      expect(res.status).toBe(200);
      await counted(t, /cca_cli_process_exits_total\{reason="memory",status="[^"]+"\} 1/);
      await waitForNoOwnedProcesses(t.dirs.data, 30_000);
      expect((await (await t.request('/api/v1/sessions/grows')).json()).data.live).toBe(false);
      const next = await t.request('/api/v1/sessions/grows/chat', {
        method: 'POST',
        json: { message: 'after recycling' },
      });
      expect(next.status).toBe(200);
      expect(promptTexts(model.mainRequests().at(-1)!)).toContain('grow-later');
    },
  );
});

describe('failed start', () => {
  it('a CLI that exits at start fails the turn with process-failed, leaves nothing running, and is counted', async () => {
    const { t } = broken;
    await createSession(t, 'nope');
    const res = await t.request('/api/v1/sessions/nope/chat', { method: 'POST', json: { message: 'hello' } });
    expect(res.status).toBe(502);
    expect((await res.json()).type).toBe('/problems/process-failed');
    await waitForNoOwnedProcesses(t.dirs.data, 30_000);
    await counted(t, /cca_cli_process_exits_total\{reason="failed_start",status="code_3"\} 1/);
  });
});
