// Warm spares (WARM_SPARES) with the real CLI in the wall: a new session's first turn runs on a spare in its own workspace, a mismatching one starts cold, one whose spare refuses the claim is run again cold as one turn, a spare killed while idle is replaced, spares give way under MAX_LIVE_SESSIONS.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { needs } from '../support/needs.js';
import { cliProcesses } from '../support/processes.js';
import { KEYS } from '../support/server.js';
import { ownEvents, readSse } from '../support/sse.js';
import { eventually } from '../support/wait.js';

const skip = await needs('the warm spare tests', 'wall');

describe.skipIf(skip !== undefined)('warm spares', () => {
  const f = useTestServer({
    NODE_ENV: 'test',
    WARM_SPARES: '1',
    MAX_LIVE_SESSIONS: '2',
    MAX_CONCURRENT_TURNS: '2',
    MAX_LIVE_SESSIONS_PER_KEY: '2',
  });

  const health = async () =>
    (await (await f.t.request('/api/v1/health', { key: null })).json()).data.engine.spares as {
      target: number;
      ready: number;
      starting: number;
      reason: string | null;
    };
  const readySpare = () => eventually(async () => (await health()).ready === 1, 90_000, 'a ready warm spare');
  const claims = async (result: string) => {
    const text = await (await f.t.request('/metrics')).text();
    return Number(new RegExp(`cca_warm_spare_claims_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };
  /** CLI processes of spares not claimed yet (each keeps the spare's config folder in its environment). */
  const spareProcesses = (exclude: number[] = []) =>
    cliProcesses({ under: f.t.dirs.data }).filter((p) => p.configDir?.includes('/spare-') && !exclude.includes(p.pid));
  const create = async (name: string, extra: Record<string, unknown> = {}, key: string = KEYS[0]) => {
    const res = await f.t.request('/api/v1/sessions', { method: 'POST', json: { name, ...extra }, key });
    expect(res.status).toBe(201);
    return (await res.json()).data as { workspace: string };
  };
  const chat = async (name: string, message: string) => {
    const res = await f.t.request(`/api/v1/sessions/${name}/chat`, { method: 'POST', json: { message } });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.data;
  };
  const live = async (name: string) => (await (await f.t.request(`/api/v1/sessions/${name}`)).json()).data.live;

  it('replaces a spare killed while idle', async () => {
    await readySpare();
    const [spare] = spareProcesses();
    expect(spare).toBeDefined();
    process.kill(spare!.pid, 'SIGKILL');
    await eventually(
      () => spareProcesses([spare!.pid]).length === 1 && spareProcesses().length === 1,
      90_000,
      'a new spare process',
    );
    await readySpare();
  });

  it("serves a new session's first turn in the session's own workspace, which reaches no other session's", async () => {
    const other = await create('other', {}, KEYS[1]);
    const otherFile = join(other.workspace, 'secret.txt');
    writeFileSync(otherFile, 'OTHER-SESSION-CONTENT');
    await readySpare();
    const before = await claims('claimed');
    await create('warm');
    f.model.script({
      match: 'warm-first',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/hello.txt', content: 'from a spare' } } },
        { tool: { name: 'Read', input: { file_path: otherFile } } },
        { text: 'done warm' },
      ],
    });
    const data = await chat('warm', 'warm-first');
    expect(data.content).toContain('done warm');
    expect(await claims('claimed')).toBe(before + 1);
    const files = await (await f.t.request('/api/v1/sessions/warm/files/hello.txt')).text();
    expect(files).toContain('from a spare');
    const seen = JSON.stringify(
      f.model
        .mainRequests()
        .filter((r) => r.prompt?.includes('warm-first'))
        .map((r) => r.body),
    );
    expect(seen).not.toContain('OTHER-SESSION-CONTENT');
    // The follow-up runs on the same process, and the spare is replaced in the background.
    f.model.script({ match: 'warm-second', steps: [{ text: 'second warm' }] });
    expect((await chat('warm', 'warm-second')).content).toContain('second warm');
    await readySpare();
    // Evicted, the session resumes its conversation (begun under the spare's folder path) in a new process.
    const sessions = await f.t.server.store.sessions.list(null, { offset: 0, limit: 10 });
    const id = sessions.items.find((s) => s.name === 'warm')!.id;
    await f.t.server.engine.restartSession(id);
    f.model.script({ match: 'warm-resumed', steps: [{ text: 'resumed warm' }] });
    expect((await chat('warm', 'warm-resumed')).content).toContain('resumed warm');
    const resumed = f.model.mainRequests().filter((r) => r.prompt?.includes('warm-resumed'));
    expect(JSON.stringify(resumed.at(-1)!.body.messages)).toContain('warm-first');
  });

  it('starts a mismatching first turn cold, closing the spare (not a session) to make room', async () => {
    await readySpare();
    expect(await live('warm')).toBe(true);
    const before = await claims('mismatch');
    await create('cold', { model: 'claude-other-model' });
    f.model.script({ match: 'cold-first', steps: [{ text: 'done cold' }] });
    expect((await chat('cold', 'cold-first')).content).toContain('done cold');
    expect(await claims('mismatch')).toBe(before + 1);
    // MAX_LIVE_SESSIONS=2 held the warm session's process and the spare: the spare gave way.
    expect(await live('warm')).toBe(true);
    expect(await live('cold')).toBe(true);
    // No room is left for a new one (two session processes under MAX_LIVE_SESSIONS=2).
    expect(await health()).toMatchObject({ ready: 0, starting: 0 });
    expect(cliProcesses({ under: f.t.dirs.data }).length).toBe(2);
  });
});

describe.skipIf(skip !== undefined)('a warm spare that refuses the claim', () => {
  const f = useTestServer({ NODE_ENV: 'test', WARM_SPARES: '1' });

  const metric = async (result: string) => {
    const text = await (await f.t.request('/metrics')).text();
    return Number(new RegExp(`cca_warm_spare_claims_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };
  const readySpare = () =>
    eventually(
      async () => (await (await f.t.request('/api/v1/health', { key: null })).json()).data.engine.spares.ready === 1,
      90_000,
      'a ready warm spare',
    );

  it('runs the first turn again on a cold process, as one turn: its events in order, its question and cost once', async () => {
    await readySpare();
    const spareCli = cliProcesses({ under: f.t.dirs.data }).filter((p) => p.configDir?.includes('/spare-'));
    expect(spareCli).toHaveLength(1);
    // The claim names a folder that does not exist inside the spare's wall: the real CLI refuses it (cwd_not_found).
    const spares = f.t.server.engine.spares;
    const take = spares.take.bind(spares);
    spares.take = (sessionId, want) => {
      const spare = take(sessionId, want);
      const parked = spare?.process;
      if (parked) {
        const claim = parked.claim.bind(parked);
        parked.claim = (params) =>
          claim({ ...params, options: { ...params.options, cwd: `${params.options.cwd}/gone` } });
      }
      return spare;
    };
    try {
      expect((await f.t.request('/api/v1/sessions', { method: 'POST', json: { name: 'refused' } })).status).toBe(201);
      f.model.script({ match: 'refused-first', steps: [{ text: ['cold ', 'after all'] }] });
      const res = await f.t.request('/api/v1/sessions/refused/chat/stream', {
        method: 'POST',
        json: { message: 'refused-first' },
      });
      expect(res.status).toBe(200);
      const events = ownEvents(await readSse(res).all());
      const types = events.map((e) => e.event);
      expect(types[0]).toBe('session');
      expect(types.at(-1)).toBe('result');
      expect(types).not.toContain('error');
      expect(types.filter((t) => t === 'session' || t === 'result')).toHaveLength(2);
      events.forEach((e, i) => expect(e.id).toBe(events[0]!.id + i));
      const result = events.at(-1)!.data;
      expect(result).toMatchObject({ status: 'ok', content: 'cold after all' });
      expect(result.cost_usd).toBeGreaterThan(0);

      expect(await metric('claimed')).toBe(1);
      expect(await metric('refused')).toBe(1);
      // The model was asked once; the spare's process is gone, the session's own (cold) one answered.
      expect(f.model.mainRequests().filter((r) => r.prompt?.includes('refused-first'))).toHaveLength(1);
      expect(cliProcesses({ under: f.t.dirs.data }).map((p) => p.pid)).not.toContain(spareCli[0]!.pid);
      const history = (await (await f.t.request('/api/v1/sessions/refused/history')).json()).data as Array<{
        role: string;
        turn_id: string;
        content: string;
        cost_usd: number | null;
      }>;
      expect(history.map((m) => m.role)).toEqual(['user', 'assistant']);
      expect(history[0]).toMatchObject({ content: 'refused-first', turn_id: result.turn_id });
      expect(history[1]).toMatchObject({ turn_id: result.turn_id, cost_usd: result.cost_usd });
      const session = (await (await f.t.request('/api/v1/sessions/refused')).json()).data;
      expect(session.totals).toMatchObject({ turns: 1, cost_usd: result.cost_usd });
      expect(session.claude_session_id).toBe(result.session_id);
      expect(session.live).toBe(true);
    } finally {
      spares.take = take;
    }
    // The next turn goes on in the same (cold) process, and a new spare is made ready.
    f.model.script({ match: 'refused-second', steps: [{ text: 'second' }] });
    const next = await f.t.request('/api/v1/sessions/refused/chat', {
      method: 'POST',
      json: { message: 'refused-second' },
    });
    expect((await next.json()).data.content).toBe('second');
    await readySpare();
  });
});

describe.skipIf(skip !== undefined)('a warm spare with the workspace hook off: the wall alone holds', () => {
  const f = useTestServer(
    { NODE_ENV: 'test', WARM_SPARES: '1', TEST_WORKSPACE_HOOK_OFF: 'true' },
    { cliEnv: { ANTHROPIC_API_KEY: 'sk-ant-REAL-KEY-SPARE-0001' } },
  );

  it("reaches no other session's workspace and holds no real credential", async () => {
    const other = await f.t.request('/api/v1/sessions', { method: 'POST', json: { name: 'other' }, key: KEYS[1] });
    const otherFile = join(((await other.json()).data as { workspace: string }).workspace, 'secret.txt');
    writeFileSync(otherFile, 'OTHER-TENANT-CONTENT');
    await eventually(
      async () => (await (await f.t.request('/api/v1/health', { key: null })).json()).data.engine.spares.ready === 1,
      90_000,
      'a ready warm spare',
    );
    expect((await f.t.request('/api/v1/sessions', { method: 'POST', json: { name: 'walled' } })).status).toBe(201);
    const bash = (command: string) => ({ tool: { name: 'Bash', input: { command, description: 'look around' } } });
    f.model.script({
      match: 'spare-escape',
      steps: [
        bash(`cat ${otherFile}; ls -a ${f.t.dirs.workspaces} ${f.t.dirs.workspaces}/.spares; env`),
        { tool: { name: 'Read', input: { file_path: otherFile } } },
        { text: 'looked' },
      ],
    });
    const res = await f.t.request('/api/v1/sessions/walled/chat', {
      method: 'POST',
      json: { message: 'spare-escape' },
    });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    const text = await (await f.t.request('/metrics')).text();
    expect(text).toMatch(/cca_warm_spare_claims_total\{result="claimed"\} 1/);
    const seen = JSON.stringify(
      f.model
        .mainRequests()
        .filter((r) => r.prompt?.includes('spare-escape'))
        .map((r) => r.body),
    );
    expect(body.data.content).toContain('looked');
    expect(body.data.tools_used.map((t: { name: string }) => t.name)).toEqual(['Bash', 'Read']);
    expect(seen.includes('tool_result')).toBe(true);
    expect(seen.includes('OTHER-TENANT-CONTENT')).toBe(false);
    expect(seen.includes('sk-ant-REAL-KEY-SPARE-0001')).toBe(false);
  });
});

describe('without warm spares (WARM_SPARES=0)', () => {
  const f = useTestServer({ NODE_ENV: 'test' });

  it('keeps none, and a first turn starts cold', async () => {
    const res = await f.t.request('/api/v1/health', { key: null });
    expect((await res.json()).data.engine.spares).toMatchObject({ target: 0, ready: 0, starting: 0 });
    expect((await f.t.request('/api/v1/sessions', { method: 'POST', json: { name: 'plain' } })).status).toBe(201);
    f.model.script({ match: 'plain-first', steps: [{ text: 'done plain' }] });
    const chat = await f.t.request('/api/v1/sessions/plain/chat', { method: 'POST', json: { message: 'plain-first' } });
    expect(chat.status).toBe(200);
    expect(await (await f.t.request('/metrics')).text()).not.toMatch(/cca_warm_spare_claims_total\{/);
  });

  it("refuses the warm spares' folder as a working directory (it holds future sessions' workspaces)", async () => {
    for (const dir of ['.spares', '.spares/spare-1']) {
      mkdirSync(join(f.t.dirs.workspaces, dir), { recursive: true });
      const res = await f.t.request('/api/v1/sessions', {
        method: 'POST',
        json: { name: `into-${dir.length}`, working_dir: join(f.t.dirs.workspaces, dir) },
      });
      expect(res.status).toBe(422);
      expect((await res.json()).errors[0]).toMatchObject({ pointer: '/working_dir' });
    }
  });
});
