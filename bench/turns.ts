// `npm run bench`: the engine's turn latency against the way peers run Claude Code (a fresh CLI process per request),
// both against the same scripted Messages API on loopback. Prints medians, p90 and ratios; see docs/benchmarks.md.
//
//   BENCH_QUICK=1   few repetitions and 40 instead of 200 earlier turns (a smoke run, not figures to quote)
//   BENCH_JSON=path also write every sample as JSON
//   BENCH_CASES=e,f run only these cases (letters as in the table: a b c d e f g r; c′ runs with a, h with g)
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { SpareProcess } from '@anthropic-ai/claude-agent-sdk';
import { ModelServer, promptTexts } from '../test/support/model-server.js';
import { cliProcesses, waitForNoCliProcesses } from '../test/support/processes.js';
import { startTestServer, type TestServer } from '../test/support/server.js';
import {
  cliPeakRss,
  coldArgs,
  cwdOf,
  flattenHistory,
  killChildren,
  peer,
  PEER_SANDBOX,
  quiet,
  readCompletionStream,
  readStream,
  resumeArgs,
  runCli,
  summarize,
  type ChatMessage,
  type Summary,
} from './lib.js';
import { claimedFirstTurn, coldQueryFirstTurn, startSpare } from './prewarm.js';

const QUICK = process.env.BENCH_QUICK === '1';
const CASES = process.env.BENCH_CASES?.split(',').map((c) => c.trim());
const want = (letter: string) => CASES === undefined || CASES.includes(letter);
/** Whether the service runs Bash in its sandbox here (bubblewrap and socat installed); read from its health at start. */
let sandboxOn: boolean;
/** Whether the service runs its sessions inside the wall (read from its health). */
let wallOn: boolean;
const N_COLD = QUICK ? 3 : 20;
const N_FOLLOW = QUICK ? 6 : 30;
const N_STREAM_FOLLOW = QUICK ? 4 : 20;
const N_PREWARM = QUICK ? 3 : 12;
const SHORT = 10;
const LONG = QUICK ? 40 : 200;

/** The scripted answer: plain text, streamed in four chunks. */
const ANSWER = ['Sure. ', 'Here is a short answer, ', 'streamed in a few chunks ', 'by the scripted model.'];

// ---------- results ----------

interface Row {
  label: string;
  samples: number[];
  /** Earlier turns the model saw in this row's measured turns (min–max), when it applies. */
  history?: [number, number];
  /** Ratio of this row's median to the baseline row's, with its target. */
  against?: { baseline: Row; target?: number; info?: string };
}

const rows: Row[] = [];
const sections: { title: string; rows: Row[] }[] = [];
const memory: Record<string, number> = {};
const started = Date.now();

function section(title: string): Row[] {
  const list: Row[] = [];
  sections.push({ title, rows: list });
  return list;
}

function row(list: Row[], label: string): Row {
  const r: Row = { label, samples: [] };
  list.push(r);
  rows.push(r);
  return r;
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '–');

function ratioOf(r: Row): number | undefined {
  if (!r.against) return undefined;
  return summarize(r.samples).median / summarize(r.against.baseline.samples).median;
}

function log(msg: string): void {
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${msg}\n`);
}

// ---------- the service under test ----------

const model = await ModelServer.start();
model.script({ match: /[\s\S]*/, steps: [{ text: ANSWER }] });
/** Marker in a measured message → how many earlier user turns the model saw with it. */
const earlier = new Map<string, number>();
model.onRequest((r) => {
  if (r.kind === 'main' && r.prompt) {
    const m = /\[bench:([^\]]+)\]/.exec(r.prompt);
    if (m?.[1] && !earlier.has(m[1])) earlier.set(m[1], promptTexts(r).length - 1);
  }
  model.requests.length = 0; // the log is not needed here, and 200-turn bodies add up
});

let t: TestServer | undefined;
/** The service with warm spares (WARM_SPARES=1), for case (g); `t` runs without them, as the other cases did before. */
let tw: TestServer | undefined;
let spare: SpareProcess | undefined;
let cleaned = false;

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  killChildren();
  spare?.close();
  await tw?.cleanup();
  await t?.cleanup();
  await model.close();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function api(path: string, method: string, json?: unknown): Promise<any> {
  const res = await t!.request(`/api/v1${path}`, { method, json });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const createSession = (name: string) => api('/sessions', 'POST', { name });
const deleteSession = (name: string) => api(`/sessions/${name}`, 'DELETE');
const getSession = async (name: string): Promise<{ id: string; claude_session_id: string; working_dir: string }> =>
  (await api(`/sessions/${name}`, 'GET')).data;

/**
 * Deletes a session built through the API after copying its transcript into the peer CLI's config dir, where
 * `--resume` finds it (each session keeps its transcripts in its own config folder, removed with the session).
 */
async function handOver(name: string, peerConfigDir: string) {
  const session = await getSession(name);
  cpSync(join(t!.dirs.data, 'session-config', session.id, 'projects'), join(peerConfigDir, 'projects'), {
    recursive: true,
  });
  await deleteSession(name);
  return session;
}

async function chat(name: string, message: string): Promise<void> {
  const body = await api(`/sessions/${name}/chat`, 'POST', { message });
  if (body?.data?.content !== ANSWER.join('')) throw new Error(`unexpected chat answer: ${JSON.stringify(body)}`);
}

async function chatStream(name: string, message: string, t0: number) {
  const res = await t!.request(`/api/v1/sessions/${name}/chat/stream`, { method: 'POST', json: { message } });
  return readStream(res, t0);
}

/** POST /v1/chat/completions; returns the answer text and the session it ran on. */
async function completion(messages: ChatMessage[], stream = false) {
  return t!.request('/v1/chat/completions', {
    method: 'POST',
    json: { model: 'sonnet', messages, ...(stream && { stream: true }) },
  });
}

async function completionText(messages: ChatMessage[]): Promise<{ text: string; session: string }> {
  const res = await completion(messages);
  const body = await res.json();
  const text = body?.choices?.[0]?.message?.content;
  if (res.status !== 200 || text !== ANSWER.join('')) throw new Error(`unexpected completion: ${JSON.stringify(body)}`);
  return { text, session: body.x_claude_code.session };
}

async function build(name: string, turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await chat(name, `history turn ${i + 1}`);
}

let dirCount = 0;
function freshDir(): string {
  const dir = join(t!.cli.dir, 'bare', String(++dirCount));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs the two sides of a comparison alternately, flipping which goes first each round. */
async function alternate(n: number, a: (i: number) => Promise<void>, b: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      await a(i);
      await b(i);
    } else {
      await b(i);
      await a(i);
    }
  }
}

function historyOf(r: Row, markers: string[]): void {
  const seen = markers.map((m) => earlier.get(m)).filter((v): v is number => v !== undefined);
  if (seen.length > 0) r.history = [Math.min(...seen), Math.max(...seen)];
}

function notePeak(key: string, values: Array<number | undefined>): void {
  const v = values.filter((x): x is number => x !== undefined);
  if (v.length > 0) memory[key] = Math.max(memory[key] ?? 0, ...v);
}

// ---------- the cases ----------

try {
  // BENCH_WALL=0: the service without its wall (the Bash sandbox only), to measure what the wall costs.
  t = await startTestServer(model.url, {
    LOG_LEVEL: 'silent',
    ...(process.env.BENCH_WALL === '0' ? { WALL_ENABLED: 'false', WALL_UNCONFINED_TENANTS: 'true' } : {}),
  });
  const env = t.cli.env;
  const configDir = t.cli.configDir;
  /** The service's CLIs (each session has its own config folder under DATA_DIR) and the peer's. */
  const service = { under: t.dirs.data };
  const both = [service, { configDir }];
  log(`service on ${t.url}, model server on ${model.url}, CLI ${t.server.cli.version}`);
  // Like for like: the peer CLI gets the Bash sandbox when the service's is on (BENCH_PEER_SANDBOX=0: never).
  const health = (await (await fetch(`${t.url}/api/v1/health`)).json()) as {
    data: { sandbox: { available: boolean }; wall: { available: boolean; reason: string | null } };
  };
  sandboxOn = health.data.sandbox.available;
  wallOn = health.data.wall.available;
  log(`service wall ${wallOn ? 'on' : `off (${health.data.wall.reason})`}`);
  if (sandboxOn && process.env.BENCH_PEER_SANDBOX !== '0')
    peer.settings = ['--settings', JSON.stringify({ sandbox: PEER_SANDBOX })];
  log(
    `service Bash sandbox ${sandboxOn ? 'on' : 'off'}; peer CLI ${peer.settings.length > 0 ? 'with' : 'without'} the same sandbox`,
  );

  // Warm-up: page cache, the config dir's first-run files, the JIT of the service's hot paths.
  await runCli(coldArgs('warm-up'), { env, cwd: freshDir() });
  await createSession('warmup');
  await chat('warmup', 'warm-up 1');
  await chat('warmup', 'warm-up 2');
  const warm = await handOver('warmup', configDir);
  await runCli(resumeArgs('warm-up 3', warm.claude_session_id), { env, cwd: warm.working_dir });
  log('warmed up');

  // (b) First turn on a new session: POST /sessions + first POST /chat, against a cold `claude -p`.
  if (want('b')) {
    const list = section('(b) First turn on a new session (request → full answer)');
    const apiRow = row(list, 'API: POST /sessions + POST /chat');
    const bareRow = row(list, 'bare CLI `claude -p` cold (spawn → result)');
    apiRow.against = { baseline: bareRow, target: 1.1 };
    const createOnly: number[] = [];
    await alternate(
      N_COLD,
      async (i) => {
        const name = `first-${i}`;
        const t0 = performance.now();
        await createSession(name);
        createOnly.push(performance.now() - t0);
        await chat(name, `[bench:b-api-${i}] hello`);
        apiRow.samples.push(performance.now() - t0);
        notePeak('api_cli_first_turn', cliPeakRss(service));
        await deleteSession(name);
        await quiet(both);
      },
      async (i) => {
        const run = await runCli(coldArgs(`[bench:b-bare-${i}] hello`), { env, cwd: freshDir() });
        bareRow.samples.push(run.resultMs);
        notePeak('bare_cli', [run.peakRssMiB]);
      },
    );
    const c = row(list, '  of which POST /sessions alone');
    c.samples = createOnly;
    log('(b) done');
  }

  // (c) Time to the first streamed text delta on a new session's first turn.
  if (want('c')) {
    const list = section('(c) First streamed text delta, new session (request → first text)');
    const apiRow = row(list, 'API: POST /chat/stream → first `event: text`');
    const bareRow = row(list, 'bare CLI cold, --include-partial-messages (spawn → first text_delta)');
    apiRow.against = { baseline: bareRow, target: 1.1 };
    const withCreate = row(list, 'API incl. the POST /sessions before it');
    withCreate.against = { baseline: bareRow, info: 'info' };
    await alternate(
      N_COLD,
      async (i) => {
        const name = `stream-${i}`;
        const tc = performance.now();
        await createSession(name);
        const t0 = performance.now();
        const run = await chatStream(name, `[bench:c-api-${i}] hello`, t0);
        apiRow.samples.push(run.firstTextMs);
        withCreate.samples.push(run.firstTextMs + (t0 - tc));
        await deleteSession(name);
        await quiet(both);
      },
      async (i) => {
        const run = await runCli(coldArgs(`[bench:c-bare-${i}] hello`, true), { env, cwd: freshDir() });
        bareRow.samples.push(run.firstTextMs ?? Number.NaN);
      },
    );
    log('(c) done');
  }

  // (a) Follow-up turns at SHORT and LONG earlier turns. The API side runs on a live session; the peer side resumes a twin
  // conversation of the same length (built through the API, then its process closed) with a fresh CLI per request.
  // Each measured turn adds one turn to its conversation, on both sides alike.
  const followUp = async (history: number, apiName: string, twinName: string) => {
    const list = section(`(a) Follow-up turn, ${history} earlier turns (request → full answer)`);
    const apiRow = row(list, 'API: POST /chat on the live session');
    const bareRow = row(list, 'bare CLI `claude -p --resume <id>` (spawn → result)');
    apiRow.against = { baseline: bareRow, target: 0.25 };
    const twin = await handOver(twinName, configDir); // closes its process; the transcript and folder stay
    await quiet(both, (pid) => cwdOf(pid) !== twin.working_dir);
    const apiMarks: string[] = [];
    const bareMarks: string[] = [];
    await alternate(
      N_FOLLOW,
      async (i) => {
        const mark = `a${history}-api-${i}`;
        apiMarks.push(mark);
        const t0 = performance.now();
        await chat(apiName, `[bench:${mark}] and then?`);
        apiRow.samples.push(performance.now() - t0);
      },
      async (i) => {
        const mark = `a${history}-bare-${i}`;
        bareMarks.push(mark);
        const run = await runCli(resumeArgs(`[bench:${mark}] and then?`, twin.claude_session_id), {
          env,
          cwd: twin.working_dir,
        });
        if (run.sessionId !== twin.claude_session_id)
          throw new Error(`--resume answered as session ${run.sessionId}, not ${twin.claude_session_id}`);
        bareRow.samples.push(run.resultMs);
        notePeak('bare_cli', [run.peakRssMiB]);
      },
    );
    historyOf(apiRow, apiMarks);
    historyOf(bareRow, bareMarks);
    notePeak('api_cli_live', cliPeakRss(service));
    return { apiRow, bareRow, twin };
  };

  /** The short-history rows, which the long-history case compares with. */
  let shortRows: { apiRow: Row; bareRow: Row } | undefined;
  if (want('a')) {
    await createSession('live-short');
    await createSession('twin-short');
    await build('live-short', SHORT);
    await build('twin-short', SHORT);
    log(`built two conversations of ${SHORT} turns`);
    const short = await followUp(SHORT, 'live-short', 'twin-short');
    shortRows = short;
    log('(a) short done');

    // (c') First streamed text delta on a follow-up turn (the same two conversations, now longer).
    {
      const list = section('(c\u2032) First streamed text delta, follow-up turn (request → first text)');
      const apiRow = row(list, 'API: POST /chat/stream on the live session');
      const bareRow = row(list, 'bare CLI --resume, --include-partial-messages (spawn → first text_delta)');
      apiRow.against = { baseline: bareRow, info: 'info' };
      const apiMarks: string[] = [];
      const bareMarks: string[] = [];
      await alternate(
        N_STREAM_FOLLOW,
        async (i) => {
          apiMarks.push(`cf-api-${i}`);
          const t0 = performance.now();
          const run = await chatStream('live-short', `[bench:cf-api-${i}] more?`, t0);
          apiRow.samples.push(run.firstTextMs);
        },
        async (i) => {
          bareMarks.push(`cf-bare-${i}`);
          const run = await runCli(resumeArgs(`[bench:cf-bare-${i}] more?`, short.twin.claude_session_id, true), {
            env,
            cwd: short.twin.working_dir,
          });
          bareRow.samples.push(run.firstTextMs ?? Number.NaN);
        },
      );
      historyOf(apiRow, apiMarks);
      historyOf(bareRow, bareMarks);
      log("(c') done");
    }
    await deleteSession('live-short');
  }

  // (e) A stateless OpenAI client's follow-up: the whole history re-sent to /v1/chat/completions lands on the live
  // session; the peer way flattens the same history into one prompt for a fresh `claude -p`.
  if (want('e')) {
    const list = section(`(e) Stateless client follow-up, ${SHORT} earlier turns (request → full answer)`);
    const apiRow = row(list, 'API: POST /v1/chat/completions, whole history re-sent');
    const bareRow = row(list, 'bare CLI `claude -p "<flattened history>"` (spawn → result)');
    apiRow.against = { baseline: bareRow, target: 0.2 };
    const history: ChatMessage[] = [];
    let session = '';
    for (let i = 0; i < SHORT; i++) {
      history.push({ role: 'user', content: `compat history turn ${i + 1}` });
      const answer = await completionText(history);
      history.push({ role: 'assistant', content: answer.text });
      if (session && answer.session !== session) throw new Error('the re-sent history started a new session');
      session = answer.session;
    }
    const apiMarks: string[] = [];
    await alternate(
      N_FOLLOW,
      async (i) => {
        apiMarks.push(`e-api-${i}`);
        const asked: ChatMessage[] = [...history, { role: 'user', content: `[bench:e-api-${i}] and then?` }];
        const t0 = performance.now();
        const answer = await completionText(asked);
        apiRow.samples.push(performance.now() - t0);
        if (answer.session !== session) throw new Error('a follow-up did not land on the live session');
        history.push(asked.at(-1)!, { role: 'assistant', content: answer.text });
      },
      async (i) => {
        const prompt = flattenHistory([...history, { role: 'user', content: `[bench:e-bare-${i}] and then?` }]);
        const run = await runCli(coldArgs(prompt), { env, cwd: freshDir() });
        bareRow.samples.push(run.resultMs);
      },
    );
    historyOf(apiRow, apiMarks);
    await deleteSession(session);
    await quiet(both);
    log('(e) follow-up done');
  }

  // (f) First text of a streamed completion for a new conversation, against the bare CLI's first text delta.
  if (want('f')) {
    const list = section('(f) First streamed text, /v1/chat/completions, new conversation (request → first text)');
    const apiRow = row(list, 'API: POST /v1/chat/completions stream → first content delta');
    const bareRow = row(list, 'bare CLI cold, --include-partial-messages (spawn → first text_delta)');
    apiRow.against = { baseline: bareRow, target: 1.1 };
    await alternate(
      N_COLD,
      async (i) => {
        const t0 = performance.now();
        const res = await completion([{ role: 'user', content: `[bench:f-api-${i}] hello` }], true);
        const run = await readCompletionStream(res, t0);
        apiRow.samples.push(run.firstTextMs);
        await deleteSession(res.headers.get('x-session-name')!);
        await quiet(both);
      },
      async (i) => {
        const run = await runCli(coldArgs(`[bench:f-bare-${i}] hello`, true), { env, cwd: freshDir() });
        bareRow.samples.push(run.firstTextMs ?? Number.NaN);
      },
    );
    log('(f) done');
  }

  if (want('a')) {
    await createSession('live-long');
    await createSession('twin-long');
    await Promise.all([build('live-long', LONG), build('twin-long', LONG)]);
    log(`built two conversations of ${LONG} turns`);
    const long = await followUp(LONG, 'live-long', 'twin-long');
    await deleteSession('live-long');
    {
      const list = section('(a) History growth of the API follow-up turn');
      const g = row(list, `API median at ${LONG} vs at ${SHORT} earlier turns`);
      g.samples = long.apiRow.samples;
      g.against = { baseline: shortRows!.apiRow, target: 1.5 };
      const s = row(list, `bare CLI median at ${LONG} vs at ${SHORT} earlier turns`);
      s.samples = long.bareRow.samples;
      s.against = { baseline: shortRows!.bareRow, info: 'info' };
    }
    log('(a) long done');
  }

  // (g) A new session's first turn on a warm spare (WARM_SPARES=1, a second service on the same model server), request →
  // first streamed text and → result, POST /sessions included, against a cold `claude -p` with the same sandbox
  // settings. (h) The next new session right after, while the used spare is being replaced: it starts cold.
  if (want('g')) {
    tw = await startTestServer(model.url, {
      LOG_LEVEL: 'silent',
      WARM_SPARES: '1',
      ...(process.env.BENCH_WALL === '0' ? { WALL_ENABLED: 'false', WALL_UNCONFINED_TENANTS: 'true' } : {}),
    });
    const warmApi = async (path: string, method: string, json?: unknown): Promise<any> => {
      const res = await tw!.request(`/api/v1${path}`, { method, json });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const spares = async () =>
      (await warmApi('/health', 'GET')).data.engine.spares as { ready: number; reason: string | null };
    const readySpare = async () => {
      const deadline = Date.now() + 120_000;
      while ((await spares()).ready < 1) {
        const s = await spares();
        if (s.reason) throw new Error(`no warm spare: ${s.reason}`);
        if (Date.now() > deadline) throw new Error('no warm spare became ready in 120 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const firstTurn = async (name: string, message: string) => {
      const t0 = performance.now();
      await warmApi('/sessions', 'POST', { name });
      const res = await tw!.request(`/api/v1/sessions/${name}/chat/stream`, { method: 'POST', json: { message } });
      return readStream(res, t0);
    };
    const claims = async () => {
      const text = await (await tw!.request('/metrics')).text();
      return (result: string) =>
        Number(new RegExp(`cca_warm_spare_claims_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    const list = section('(g) First turn on a new session with a warm spare (POST /sessions + POST /chat/stream)');
    const warmResult = row(list, 'API on a warm spare: request → result');
    const bareResult = row(list, 'bare CLI `claude -p` cold: spawn → result');
    const warmText = row(list, 'API on a warm spare: request → first `event: text`');
    const bareText = row(list, 'bare CLI cold: spawn → first text_delta');
    warmResult.against = { baseline: bareResult, target: 0.5 };
    warmText.against = { baseline: bareText, target: 0.5 };
    const afterList = section('(h) First turn on a new session right after the spare was used (it starts cold)');
    const afterResult = row(afterList, 'API, spare used up: request → result');
    const afterText = row(afterList, 'API, spare used up: request → first `event: text`');
    afterResult.against = { baseline: bareResult, target: 1.1 };
    afterText.against = { baseline: bareText, target: 1.1 };
    const warmService = { under: tw.dirs.data };
    await alternate(
      N_COLD,
      async (i) => {
        await readySpare();
        const warm = await firstTurn(`warm-${i}`, `[bench:g-api-${i}] hello`);
        warmResult.samples.push(warm.endMs);
        warmText.samples.push(warm.firstTextMs);
        const next = await firstTurn(`after-${i}`, `[bench:h-api-${i}] hello`);
        afterResult.samples.push(next.endMs);
        afterText.samples.push(next.firstTextMs);
        notePeak('api_cli_first_turn', cliPeakRss(warmService));
        await warmApi(`/sessions/warm-${i}`, 'DELETE');
        await warmApi(`/sessions/after-${i}`, 'DELETE');
        await readySpare();
      },
      async (i) => {
        const run = await runCli(coldArgs(`[bench:g-bare-${i}] hello`, true), { env, cwd: freshDir() });
        bareResult.samples.push(run.resultMs);
        bareText.samples.push(run.firstTextMs ?? Number.NaN);
      },
    );
    const counted = await claims();
    log(
      `(g) done: ${counted('claimed')} claimed, ${counted('none')} with none ready, ${counted('mismatch')} mismatched`,
    );
    if (counted('claimed') !== N_COLD)
      throw new Error(`only ${counted('claimed')} of ${N_COLD} warm turns were claimed`);
    await tw.cleanup();
    tw = undefined;
  }

  // (r) Warm resume: an evicted session's next turn resumes its conversation in a new process, against a bare
  // `claude -p --resume` of a twin conversation of the same length.
  if (want('r')) {
    const list = section(`(r) Evicted session's next turn, ${SHORT} earlier turns (request → full answer)`);
    const apiRow = row(list, 'API: POST /chat after its process was closed (resumes from the transcript)');
    const bareRow = row(list, 'bare CLI `claude -p --resume <id>` (spawn → result)');
    apiRow.against = { baseline: bareRow, target: 1.0 };
    await createSession('resume-live');
    await createSession('resume-twin');
    await build('resume-live', SHORT);
    await build('resume-twin', SHORT);
    const twin = await handOver('resume-twin', configDir);
    const live = await getSession('resume-live');
    const apiMarks: string[] = [];
    const bareMarks: string[] = [];
    await alternate(
      N_FOLLOW,
      async (i) => {
        await t!.server.engine.restartSession(live.id);
        await quiet(both, (pid) => cwdOf(pid) !== live.working_dir);
        const mark = `r-api-${i}`;
        apiMarks.push(mark);
        const t0 = performance.now();
        await chat('resume-live', `[bench:${mark}] and then?`);
        apiRow.samples.push(performance.now() - t0);
      },
      async (i) => {
        const mark = `r-bare-${i}`;
        bareMarks.push(mark);
        const run = await runCli(resumeArgs(`[bench:${mark}] and then?`, twin.claude_session_id), {
          env,
          cwd: twin.working_dir,
        });
        bareRow.samples.push(run.resultMs);
      },
    );
    historyOf(apiRow, apiMarks);
    historyOf(bareRow, bareMarks);
    await deleteSession('resume-live');
    await quiet(both);
    log('(r) done');
  }

  // (d) Prototype: a spare process started ahead of time (SDK prewarm), claimed by the new session. Its SDK runs have no
  // Bash sandbox, so neither has the bare CLI they are compared with.
  const withSandbox = peer.settings;
  peer.settings = [];
  if (want('d')) {
    const list = section(
      '(d) Prototype, not in the engine: first turn on a prewarmed spare (SDK, no HTTP, no Bash sandbox on either side)',
    );
    const bareResult = row(list, 'bare CLI cold, --include-partial-messages: spawn → result');
    const coldResult = row(list, 'SDK cold query() (the engine today): → result');
    const spareResult = row(list, 'SDK prewarm() spare, claim() → result');
    const bareText = row(list, 'bare CLI cold: spawn → first text_delta');
    const coldText = row(list, 'SDK cold query(): → first text_delta');
    const spareText = row(list, 'SDK prewarm() spare, claim() → first text_delta');
    coldResult.against = { baseline: bareResult, info: 'info' };
    spareResult.against = { baseline: bareResult, info: 'info' };
    coldText.against = { baseline: bareText, info: 'info' };
    spareText.against = { baseline: bareText, info: 'info' };
    for (let i = 0; i < N_PREWARM; i++) {
      await quiet(both);
      spare = await startSpare(env); // parks while the other two run, as it would between requests
      const sparePids = cliProcesses({ configDir }).map((p) => p.pid);
      const order = i % 2 === 0 ? ['bare', 'cold'] : ['cold', 'bare'];
      for (const which of order) {
        if (which === 'bare') {
          const run = await runCli(coldArgs(`[bench:d-bare-${i}] hello`, true), { env, cwd: freshDir() });
          bareResult.samples.push(run.resultMs);
          bareText.samples.push(run.firstTextMs ?? Number.NaN);
        } else {
          const run = await coldQueryFirstTurn(env, freshDir(), `[bench:d-cold-${i}] hello`);
          coldResult.samples.push(run.resultMs);
          coldText.samples.push(run.firstTextMs);
          await quiet(both, (pid) => sparePids.includes(pid));
        }
      }
      const run = await claimedFirstTurn(spare, freshDir(), `[bench:d-spare-${i}] hello`);
      spare = undefined;
      spareResult.samples.push(run.resultMs);
      spareText.samples.push(run.firstTextMs);
    }
    log('(d) done');
  }
  peer.settings = withSandbox;

  memory.service_process = process.resourceUsage().maxRSS / 1024;
} finally {
  await cleanup();
}

const configDir = t.cli.configDir;
let leftBehind = 'none';
for (const filter of [{ configDir }, { under: t.dirs.data }]) {
  try {
    await waitForNoCliProcesses(filter, 10_000);
  } catch (err) {
    leftBehind = (err as Error).message;
    for (const p of cliProcesses(filter)) process.kill(p.pid, 'SIGKILL');
  }
}

// ---------- report ----------

const sdkVersion = (
  JSON.parse(readFileSync('node_modules/@anthropic-ai/claude-agent-sdk/package.json', 'utf8')) as { version: string }
).version;
const lines: string[] = [];
lines.push(
  `claude-code-api benchmark — ${new Date().toISOString()}${QUICK ? ' (BENCH_QUICK: smoke run, not figures to quote)' : ''}`,
);
lines.push(
  `machine: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? '?'}), load ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}; node ${process.version}; Claude Code CLI ${t.server.cli.version}; agent SDK ${sdkVersion}`,
);
lines.push(`wall time ${((Date.now() - started) / 1000).toFixed(0)} s; CLI processes left behind: ${leftBehind}`);
lines.push('');
lines.push('| case | n | median ms | p90 ms | ratio | target | verdict |');
lines.push('|---|---:|---:|---:|---:|---:|---|');
let misses = 0;
for (const s of sections) {
  lines.push(`| **${s.title}** | | | | | | |`);
  for (const r of s.rows) {
    const sum: Summary = summarize(r.samples);
    const ratio = ratioOf(r);
    const history = r.history ? ` (history ${r.history[0]}–${r.history[1]})` : '';
    let target = '';
    let verdict = '';
    if (r.against?.target !== undefined && ratio !== undefined) {
      target = `≤ ${r.against.target.toFixed(2)}`;
      verdict = ratio <= r.against.target ? 'PASS' : 'MISS';
      if (verdict === 'MISS') misses++;
    } else if (ratio !== undefined) {
      target = '(info)';
    }
    lines.push(
      `| ${r.label}${history} | ${sum.n} | ${fmt(sum.median)} | ${fmt(sum.p90)} | ${ratio === undefined ? '' : ratio.toFixed(2)} | ${target} | ${verdict} |`,
    );
  }
}
lines.push('');
lines.push(
  `peak RSS: service process (in-process with the bench and the model server) ${fmt(memory.service_process)} MiB; ` +
    `live session CLI ${fmt(memory.api_cli_live ?? Number.NaN)} MiB; CLI during a first turn ${fmt(memory.api_cli_first_turn ?? Number.NaN)} MiB; ` +
    `bare CLI per request ${fmt(memory.bare_cli ?? Number.NaN)} MiB`,
);
lines.push(
  sandboxOn
    ? `Bash sandbox: on in the service; the peer CLI ${peer.settings.length > 0 ? 'ran with the same sandbox settings (BENCH_PEER_SANDBOX=0: without)' : "ran without it (BENCH_PEER_SANDBOX=0): new processes of the service pay the sandbox runtime's start-up, ~250 ms, and the peer does not"}`
    : 'Bash sandbox: off in the service (bubblewrap or socat missing, or SANDBOX_ENABLED=false); the peer CLI ran without it too',
);
lines.push(
  wallOn
    ? "Wall: on in the service (each session's CLI in its own bubblewrap wall, Bash sandbox off inside it); BENCH_WALL=0 runs the service without it"
    : 'Wall: off in the service (BENCH_WALL=0, or it cannot run here)',
);
lines.push(misses === 0 ? 'all targets met' : `${misses} target(s) missed`);
process.stdout.write(`${lines.join('\n')}\n`);

if (process.env.BENCH_JSON) {
  const out = sections.map((s) => ({
    title: s.title,
    rows: s.rows.map((r) => ({
      label: r.label,
      history: r.history,
      ratio: ratioOf(r),
      ...summarize(r.samples),
      samples: r.samples.map((v) => Math.round(v * 10) / 10),
    })),
  }));
  writeFileSync(
    process.env.BENCH_JSON,
    JSON.stringify({ date: new Date().toISOString(), quick: QUICK, memory, sections: out }, null, 2),
  );
}
