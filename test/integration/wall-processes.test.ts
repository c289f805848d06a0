// Nothing a session starts outlives it: a detached background command (`setsid sleep`) ends with the session's close, the turn's time-out and the server's stop; any process carrying the session's environment is looked for, not only the CLI.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { ownedProcesses } from '../support/processes.js';
import { eventually } from '../support/wait.js';
import { needs } from '../support/needs.js';

const skip = await needs('the wall process tests', 'wall');

describe.skipIf(skip !== undefined)('no process outlives its session', () => {
  const f = useTestServer({ CLAUDE_TIMEOUT_SECONDS: '10' });

  /** The live processes of one session (the CLI, bwrap's init, its tools' children), by the config folder they inherit. */
  const processesOf = (sessionId: string) => {
    const dir = join(f.t.dirs.data, 'session-config', sessionId);
    return ownedProcesses(f.t.dirs.data).filter((p) => p.configDir === dir);
  };

  async function session(name: string): Promise<string> {
    const res = await f.t.request('/api/v1/sessions', { method: 'POST', json: { name } });
    expect(res.status).toBe(201);
    return (await res.json()).data.id;
  }

  /** A turn whose Bash leaves `sleep <n>` running detached; resolves once that sleep is seen among the session's processes. */
  async function leaveSleep(name: string, id: string, seconds: number): Promise<void> {
    f.model.script({
      match: `leave-${seconds}`,
      steps: [
        {
          tool: {
            name: 'Bash',
            input: { command: `setsid sleep ${seconds} > /dev/null 2>&1 & echo started`, description: 'detach' },
          },
        },
        { text: 'left it running' },
      ],
    });
    const res = await f.t.request(`/api/v1/sessions/${name}/chat`, {
      method: 'POST',
      json: { message: `leave-${seconds}` },
    });
    expect(res.status).toBe(200);
    await eventually(
      () => processesOf(id).some((p) => p.argv.join(' ') === `sleep ${seconds}`),
      20_000,
      `sleep ${seconds} among the session's processes`,
    );
  }

  const gone = (id: string, what: string) =>
    eventually(() => processesOf(id).length === 0, 20_000, `no process of the session after ${what}`);

  it("a detached background command ends with the session's close", async () => {
    const id = await session('closing');
    await leaveSleep('closing', id, 1001);
    expect((await f.t.request('/api/v1/sessions/closing', { method: 'DELETE' })).status).toBe(204);
    await gone(id, 'its deletion');
  });

  it("a detached background command ends with the turn's time-out", async () => {
    const id = await session('timing-out');
    f.model.script({
      match: 'hang-in-bash',
      steps: [
        {
          tool: {
            name: 'Bash',
            input: { command: 'setsid sleep 1002 > /dev/null 2>&1 & sleep 120; echo never', description: 'hang' },
          },
        },
        { text: 'never reached' },
      ],
    });
    const res = await f.t.request('/api/v1/sessions/timing-out/chat', {
      method: 'POST',
      json: { message: 'hang-in-bash' },
    });
    expect(res.status).toBe(504);
    await gone(id, 'the time-out');
    // The next turn resumes the conversation in a new wall.
    f.model.script({ match: 'after-timeout', steps: [{ text: 'back again' }] });
    const next = await f.t.request('/api/v1/sessions/timing-out/chat', {
      method: 'POST',
      json: { message: 'after-timeout' },
    });
    expect(next.status).toBe(200);
    expect((await next.json()).data.content).toBe('back again');
  });

  it("a detached background command ends with the server's stop", async () => {
    const id = await session('stopping');
    await leaveSleep('stopping', id, 1003);
    await f.t.restart();
    expect(processesOf(id)).toEqual([]);
    expect(ownedProcesses(f.t.dirs.data)).toEqual([]);
  });

  it('a session from before per-session config folders resumes from the old shared folder after a restart', async () => {
    const id = await session('older');
    f.model.script({ match: 'remember-this', steps: [{ text: 'noted: PINEAPPLE-42' }] });
    expect(
      (await f.t.request('/api/v1/sessions/older/chat', { method: 'POST', json: { message: 'remember-this' } })).status,
    ).toBe(200);
    await f.t.stop();
    // As the previous version left it: the transcript in the shared config folder, no folder of the session's own.
    const own = join(f.t.dirs.data, 'session-config', id);
    const [project] = readdirSync(join(own, 'projects'));
    const transcript = readdirSync(join(own, 'projects', project!)).find((n) => n.endsWith('.jsonl'))!;
    mkdirSync(join(f.t.cli.configDir, 'projects', project!), { recursive: true });
    renameSync(join(own, 'projects', project!, transcript), join(f.t.cli.configDir, 'projects', project!, transcript));
    rmSync(own, { recursive: true });
    await f.t.restart();
    f.model.script({ match: 'what-was-it', steps: [{ text: 'it was in the history' }] });
    const res = await f.t.request('/api/v1/sessions/older/chat', { method: 'POST', json: { message: 'what-was-it' } });
    expect(res.status).toBe(200);
    const last = f.model.mainRequests().at(-1)!;
    expect(JSON.stringify(last.body.messages)).toContain('noted: PINEAPPLE-42');
    expect(existsSync(join(own, 'projects', project!, transcript))).toBe(true);
  });
});
