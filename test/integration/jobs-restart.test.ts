// Durability of jobs: the server process is killed with SIGKILL mid-job and started again on the same DATA_DIR.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCliEnv, type CliEnv } from '../support/cli-env.js';
import { ModelServer, promptTexts } from '../support/model-server.js';
import { cliProcesses, waitForNoCliProcesses } from '../support/processes.js';
import { apiOf, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { serverProcessEnv } from '../support/server-process.js';
import { eventually } from '../support/wait.js';
import { WebhookReceiver } from '../jobs/webhook-receiver.js';

const KEY = 'restart-test-key-0001';

let model: ModelServer;
let cli: CliEnv;
let hooks: WebhookReceiver;
const running: ChildProcess[] = [];
const dirs: string[] = [];
/** Every server of this file keeps its data (and its sessions' config folders) in a folder named so. */
const DIR_PREFIX = join(realpathSync(tmpdir()), 'cc-api-jobs-restart-');

beforeAll(async () => {
  model = await ModelServer.start();
  cli = makeCliEnv(model.url);
  hooks = await WebhookReceiver.start();
});

afterEach(async () => {
  for (const child of running.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await waitForNoCliProcesses({ under: DIR_PREFIX }, 20_000);
});

afterAll(async () => {
  await hooks?.close();
  await model?.close();
  cli?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Server extends ServerProcess {
  api(path: string, init?: { method?: string; json?: unknown }): Promise<Response>;
}

/** Starts `claude-code-api serve` on `dir` (its data and workspaces inside) and resolves once it listens. */
async function start(dir: string, env: Record<string, string> = {}): Promise<Server> {
  const server = await startServerProcess(
    dir,
    serverProcessEnv(cli, dir, KEY, {
      CLAUDE_CONFIG_DIR: cli.configDir,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_SECONDS: '0.05',
      RATE_LIMIT_REQUESTS: '0',
      LOG_LEVEL: 'info',
      ...env,
    }),
  );
  running.push(server.child);
  const call = apiOf(server.url, KEY);
  return {
    ...server,
    api: (path, init = {}) => call(`/api/v1${path}`, { method: init.method ?? 'GET', json: init.json }),
  };
}

function scratch(): string {
  const dir = realpathSync(mkdtempSync(DIR_PREFIX));
  dirs.push(dir);
  return dir;
}

async function json(res: Response) {
  const body = await res.json();
  if (!res.ok) throw new Error(`${res.status}: ${JSON.stringify(body)}`);
  return body.data;
}
const alive = (pid: number) => existsSync(`/proc/${pid}`) && cliProcesses().some((p) => p.pid === pid);

async function kill(server: Server): Promise<void> {
  server.child.kill('SIGKILL');
  await server.exited;
}

async function stop(server: Server): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}

describe('a job running when the server is killed', () => {
  it('is re-queued at the next start, resumes its session and succeeds; queued jobs run after it; no CLI is left', async () => {
    const dir = scratch();
    model.script({ match: 'crash-job', times: 1, steps: [{ hang: true }] });
    model.script({ match: 'crash-job', steps: [{ text: 'survived the crash' }] });
    let server = await start(dir);
    expect((await server.api('/sessions', { method: 'POST', json: { name: 'crash' } })).status).toBe(201);
    expect(
      (await server.api('/sessions/crash/chat', { method: 'POST', json: { message: 'remember the word pineapple' } }))
        .status,
    ).toBe(200);
    const job = await json(
      await server.api('/sessions/crash/jobs', {
        method: 'POST',
        json: { message: 'crash-job', webhook_url: `${hooks.url}/crash` },
      }),
    );
    const queued = await json(
      await server.api('/sessions/crash/jobs', { method: 'POST', json: { message: 'queued behind the crash' } }),
    );
    const hung = await model.waitFor((r) => r.prompt === 'crash-job');
    await eventually(
      async () => (await json(await server.api(`/sessions/crash/jobs/${job.id}`))).status === 'running',
      10_000,
      'the job to run',
    );
    const orphans = cliProcesses({ under: DIR_PREFIX }).map((p) => p.pid);
    expect(orphans.length).toBeGreaterThan(0);

    await kill(server);
    server = await start(dir);
    // The CLI of the dead server is gone before the new one listens: it died with its server (parent-death signal),
    // and where that is not available the new server ends it at start-up (it would still write to the session).
    expect(orphans.filter(alive)).toEqual([]);

    const done = await eventually(
      async () => {
        const j = await json(await server.api(`/sessions/crash/jobs/${job.id}`));
        return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
      },
      60_000,
      'the re-queued job to end',
    );
    expect(done).toMatchObject({
      status: 'done',
      restarts: 1,
      attempts: 2,
      result: { content: 'survived the crash' },
    });
    const rerun = model
      .mainRequests()
      .filter((r) => r.prompt === 'crash-job')
      .at(-1)!;
    expect(rerun).not.toBe(hung);
    expect(promptTexts(rerun)[0]).toBe('remember the word pineapple'); // the session resumed
    expect(rerun.headers['x-claude-code-session-id']).toBe(hung.headers['x-claude-code-session-id']);

    const after = await eventually(
      async () => {
        const j = await json(await server.api(`/sessions/crash/jobs/${queued.id}`));
        return j.status === 'done' ? j : undefined;
      },
      60_000,
      'the queued job to run',
    );
    expect(Date.parse(after.started_at)).toBeGreaterThanOrEqual(Date.parse(done.finished_at));

    const events = (await hooks.waitFor(3, (r) => r.path === '/crash')).map((r) => JSON.parse(r.body).type);
    expect(events.filter((e) => e === 'job.succeeded')).toHaveLength(1);
    expect(events.filter((e) => e === 'job.started').length).toBeGreaterThanOrEqual(1);
    await stop(server);
    await waitForNoCliProcesses({ under: DIR_PREFIX }, 20_000);
  });

  it("runs again a job killed in its session's first turn, as that session's first conversation", async () => {
    const dir = scratch();
    model.script({ match: 'first-turn-crash', times: 1, steps: [{ hang: true }] });
    model.script({ match: 'first-turn-crash', steps: [{ text: 'first turn again' }] });
    let server = await start(dir);
    expect((await server.api('/sessions', { method: 'POST', json: { name: 'fresh' } })).status).toBe(201);
    const job = await json(
      await server.api('/sessions/fresh/jobs', { method: 'POST', json: { message: 'first-turn-crash' } }),
    );
    await model.waitFor((r) => r.prompt === 'first-turn-crash');
    await kill(server);
    server = await start(dir);
    const done = await eventually(
      async () => {
        const j = await json(await server.api(`/sessions/fresh/jobs/${job.id}`));
        return j.status !== 'queued' && j.status !== 'running' ? j : undefined;
      },
      60_000,
      'the re-queued job to end',
    );
    expect(done, JSON.stringify(done.error)).toMatchObject({
      status: 'done',
      restarts: 1,
      result: { content: 'first turn again' },
    });
    const session = await json(await server.api('/sessions/fresh'));
    expect(session.claude_session_id).toBe(done.result.session_id);
    const history = await json(await server.api('/sessions/fresh/history'));
    expect(history.map((m: any) => [m.role, m.status])).toEqual([
      ['user', 'ok'],
      ['assistant', 'interrupted'], // the killed attempt, closed at start-up
      ['user', 'ok'],
      ['assistant', 'ok'],
    ]);
    await stop(server);
  });

  it('ends failed with a clear reason when JOB_RETRY_ON_RESTART=false', async () => {
    const dir = scratch();
    model.script({ match: 'no-retry-job', steps: [{ hang: true }] });
    let server = await start(dir, { JOB_RETRY_ON_RESTART: 'false' });
    expect((await server.api('/sessions', { method: 'POST', json: { name: 'noretry' } })).status).toBe(201);
    const job = await json(
      await server.api('/sessions/noretry/jobs', {
        method: 'POST',
        json: { message: 'no-retry-job', webhook_url: `${hooks.url}/noretry` },
      }),
    );
    await model.waitFor((r) => r.prompt === 'no-retry-job');
    await eventually(
      async () => (await json(await server.api(`/sessions/noretry/jobs/${job.id}`))).status === 'running',
      10_000,
      'the job to run',
    );
    await kill(server);
    server = await start(dir, { JOB_RETRY_ON_RESTART: 'false' });
    const done = await json(await server.api(`/sessions/noretry/jobs/${job.id}`));
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ type: '/problems/job-interrupted', status: 503 });
    expect(done.error.detail).toContain('JOB_RETRY_ON_RESTART');
    const failed = await hooks.waitFor(1, (r) => r.path === '/noretry' && JSON.parse(r.body).type === 'job.failed');
    expect(JSON.parse(failed[0]!.body).data.error.type).toBe('/problems/job-interrupted');
    expect(model.mainRequests().filter((r) => r.prompt === 'no-retry-job')).toHaveLength(1);
    await stop(server);
    await waitForNoCliProcesses({ under: DIR_PREFIX }, 20_000);
  });
});

describe('approvals pending when the server is killed', () => {
  it('expire with the reason, the turns are recorded interrupted, the job fails with a webhook, and the sessions go on', async () => {
    const dir = scratch();
    const write = (name: string) => ({
      tool: { name: 'Write', input: { file_path: `{{cwd}}/${name}`, content: 'x' } },
    });
    model.script({ match: 'pending-at-kill-job', steps: [write('job.txt'), { text: 'job wrote' }] });
    model.script({ match: 'pending-at-kill-chat', steps: [write('chat.txt'), { text: 'chat wrote' }] });
    model.script({ match: 'after-the-restart', steps: [{ text: 'going on' }] });
    let server = await start(dir);
    const rules = { permission_rules: { ask: ['Write'] } };
    for (const name of ['waitjob', 'waitchat'])
      expect((await server.api('/sessions', { method: 'POST', json: { name, ...rules } })).status).toBe(201);
    const job = await json(
      await server.api('/sessions/waitjob/jobs', {
        method: 'POST',
        json: { message: 'pending-at-kill-job', webhook_url: `${hooks.url}/waitjob` },
      }),
    );
    const first = await server.api('/sessions/waitchat/chat', {
      method: 'POST',
      json: { message: 'the word is kiwi' },
    });
    expect(first.status).toBe(200);
    const chat = await server.api('/sessions/waitchat/chat', {
      method: 'POST',
      json: { message: 'pending-at-kill-chat' },
    });
    expect(chat.status).toBe(202);
    const paused = (await chat.json()).data.pending[0];
    await hooks.waitFor(1, (r) => r.path === '/waitjob' && JSON.parse(r.body).type === 'approval.requested');
    expect((await json(await server.api(`/sessions/waitjob/jobs/${job.id}`))).status).toBe('waiting');
    expect(await json(await server.api('/approvals'))).toHaveLength(2);

    await kill(server);
    server = await start(dir);

    expect(await json(await server.api('/approvals'))).toEqual([]);
    const late = await server.api(`/sessions/waitchat/approvals/${paused.id}`, {
      method: 'POST',
      json: { decision: 'allow' },
    });
    expect(late.status).toBe(409);
    expect(await late.json()).toMatchObject({
      approval_status: 'expired',
      detail: expect.stringContaining('restarted'),
    });

    const failed = await json(await server.api(`/sessions/waitjob/jobs/${job.id}`));
    expect(failed).toMatchObject({ status: 'failed', error: { type: '/problems/approval-expired' } });
    await hooks.waitFor(1, (r) => r.path === '/waitjob' && JSON.parse(r.body).type === 'job.failed');

    const history = await json(await server.api('/sessions/waitchat/history'));
    expect(history.map((m: any) => [m.role, m.status])).toEqual([
      ['user', 'ok'],
      ['assistant', 'ok'],
      ['user', 'ok'],
      ['assistant', 'interrupted'],
    ]);
    const expiredRows = await json(await server.api('/audit?action=approval.expire'));
    expect(expiredRows).toHaveLength(2);
    expect(expiredRows.map((r: any) => r.detail.id)).toContain(paused.id);

    const next = await server.api('/sessions/waitchat/chat', {
      method: 'POST',
      json: { message: 'after-the-restart' },
    });
    expect(next.status).toBe(200);
    expect((await next.json()).data.content).toBe('going on');
    const resumed = model
      .mainRequests()
      .filter((r) => r.prompt === 'after-the-restart')
      .at(-1)!;
    expect(promptTexts(resumed)[0]).toBe('the word is kiwi'); // the conversation went on from its transcript
    await stop(server);
    await waitForNoCliProcesses({ under: DIR_PREFIX }, 20_000);
  });
});
