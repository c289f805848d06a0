// A loopback cluster of two real nodes on this machine's PostgreSQL and Redis and one shared folder: forwarding, one owner per session, takeover after a SIGKILL, events across nodes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '../../src/store/redis.js';
import { startLoopbackCluster, type ClusterNode, type LoopbackCluster } from '../support/loopback-cluster.js';
import { promptTexts, type ModelServer } from '../support/model-server.js';
import { needs, REDIS_TEST_URL } from '../support/needs.js';
import { waitForNoCliProcesses } from '../support/processes.js';
import { apiOf } from '../support/server-process.js';
import { readSse } from '../support/sse.js';
import { eventually } from '../support/wait.js';

const missing =
  (await needs('the loopback cluster tests', 'postgresql')) ?? (await needs('the loopback cluster tests', 'redis'));

const KEY = 'cluster-test-key-12345678';
const ADMIN_KEY = 'cluster-admin-key-12345678';
const LEASE_SECONDS = 2;

describe.skipIf(missing)('two nodes on one PostgreSQL, one Redis and one shared folder', { timeout: 180_000 }, () => {
  let cluster: LoopbackCluster;
  let model: ModelServer;
  let prefix: string;
  let baseEnv: Record<string, string>;
  let a: ClusterNode;
  let b: ClusterNode;

  const startNode = (id: string) => cluster.startNode(id);
  const live = (node: ClusterNode) => cluster.live(node);
  const create = async (node: ClusterNode, name: string) =>
    expect((await node.api('/api/v1/sessions', { method: 'POST', json: { name } })).status).toBe(201);
  const chat = (node: ClusterNode, name: string, message: string) =>
    node.api(`/api/v1/sessions/${name}/chat`, { method: 'POST', json: { message } });

  beforeAll(async () => {
    cluster = await startLoopbackCluster('cluster', KEY, {
      ADMIN_API_KEYS: ADMIN_KEY,
      SESSION_LEASE_SECONDS: String(LEASE_SECONDS),
    });
    ({ model, prefix, env: baseEnv } = cluster);
    a = await startNode('node-a');
    b = await startNode('node-b');
  });

  afterAll(async () => {
    await cluster?.close();
  });

  it('a session created on A and chatted on B runs in one process on the owner, and history shows both turns', async () => {
    await create(a, 'fwd');
    expect((await chat(a, 'fwd', 'first turn on A')).status).toBe(200);
    const res = await chat(b, 'fwd', 'second turn through B');
    expect(res.status).toBe(200);
    expect((await res.json()).data.status).toBe('ok');
    // The second turn ran in A's process: the model saw the first turn in its conversation.
    const last = model.mainRequests().findLast((r) => r.prompt === 'second turn through B')!;
    expect(promptTexts(last)).toContain('first turn on A');
    expect(await live(a)).toBe(1);
    expect(await live(b)).toBe(0);
    const ready = async (node: ClusterNode) => (await (await node.api('/api/v1/health/ready')).json()).data.node;
    expect(await ready(a)).toMatchObject({
      id: 'node-a',
      role: 'all',
      cluster: true,
      leases_held: 1,
      live_sessions: 1,
    });
    expect(await ready(b)).toMatchObject({
      id: 'node-b',
      role: 'all',
      cluster: true,
      leases_held: 0,
      live_sessions: 0,
    });
    const metrics = await (await b.api('/metrics')).text();
    expect(metrics).toMatch(/cca_node_info\{node="node-b",role="all"\} 1/);
    expect(metrics).toMatch(/cca_session_leases_held 0/);
    const history = (await (await b.api('/api/v1/sessions/fwd/history')).json()).data as Array<{ content: string }>;
    expect(history.map((m) => m.content)).toEqual(expect.arrayContaining(['first turn on A', 'second turn through B']));
    // Deleting through B closes the process on A.
    expect((await b.api('/api/v1/sessions/fwd', { method: 'DELETE' })).status).toBe(204);
    expect(await live(a)).toBe(0);
  });

  it('first turns raced through both nodes run in one process: one node runs the session, the other forwards', async () => {
    await create(b, 'race');
    const [r1, r2] = await Promise.all([chat(a, 'race', 'race via A'), chat(b, 'race', 'race via B')]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect((await live(a)) + (await live(b))).toBe(1);
    // One conversation: whichever turn ran second saw the first one.
    const second = model.mainRequests().findLast((r) => r.prompt === 'race via A' || r.prompt === 'race via B')!;
    const texts = promptTexts(second);
    expect(texts).toContain('race via A');
    expect(texts).toContain('race via B');
    expect((await a.api('/api/v1/sessions/race', { method: 'DELETE' })).status).toBe(204);
    expect((await live(a)) + (await live(b))).toBe(0);
  });

  it('an SSE client on B follows a turn running on A', async () => {
    await create(a, 'follow');
    model.script({ match: 'slow-turn', steps: [{ text: ['one ', 'two ', 'three ', 'four'], chunkDelayMs: 300 }] });
    const onA = await a.api('/api/v1/sessions/follow/chat/stream', {
      method: 'POST',
      json: { message: 'slow-turn' },
      headers: { accept: 'text/event-stream' },
    });
    expect(onA.status).toBe(200);
    const readerA = readSse(onA);
    expect((await readerA.next())?.event).toBeDefined();
    const onB = await b.api('/api/v1/sessions/follow/chat/stream', { headers: { accept: 'text/event-stream' } });
    expect(onB.status).toBe(200);
    expect(onB.headers.get('content-type')).toContain('text/event-stream');
    const eventsB = await readSse(onB).all();
    const eventsA = await readerA.all();
    expect(eventsB.at(-1)?.event).toBe('result');
    expect(eventsB.at(-1)?.data.content).toContain('four');
    // The same numbered events on both nodes.
    expect(eventsB.at(-1)?.id).toBe(eventsA.at(-1)?.id);
    expect((await a.api('/api/v1/sessions/follow', { method: 'DELETE' })).status).toBe(204);
  });

  it('a request already forwarded once is not forwarded again (503 forwarding-loop)', async () => {
    await create(a, 'loop');
    expect((await chat(a, 'loop', 'owned by A')).status).toBe(200);
    const redis = await connectRedis(REDIS_TEST_URL);
    const token = (await redis.get(`${prefix}cluster:hop-token`))!;
    redis.disconnect();
    const res = await b.api('/api/v1/sessions/loop/chat', {
      method: 'POST',
      json: { message: 'looped' },
      headers: { 'x-cluster-hop': token },
    });
    expect(res.status).toBe(503);
    expect((await res.json()).type).toBe('/problems/forwarding-loop');
    expect(model.mainRequests().some((r) => r.prompt === 'looped')).toBe(false);
    expect((await a.api('/api/v1/sessions/loop', { method: 'DELETE' })).status).toBe(204);
  });

  it("a node that lost a session's lease mid-turn stops its process and leaves the turn to the new owner (fencing)", async () => {
    await create(a, 'fenced');
    expect((await chat(a, 'fenced', 'first on A')).status).toBe(200);
    const id = (await (await a.api('/api/v1/sessions/fenced')).json()).data.id as string;
    model.script({ match: 'lost mid-turn', steps: [{ stall: 'partial answer' }] });
    const pending = chat(a, 'fenced', 'lost mid-turn');
    await model.waitFor((r) => r.prompt === 'lost mid-turn');
    // As after a long pause of A: its lease lapsed and B took the session, with a later epoch.
    const redis = await connectRedis(REDIS_TEST_URL);
    try {
      await redis.set(`${prefix}epoch:${id}`, '1000');
      await redis.set(`${prefix}lease:${id}`, 'node-b|1000', 'PX', 30_000);
    } finally {
      redis.disconnect();
    }
    const lost = await pending; // A notices at its next renewal and stops the process
    expect(lost.status).toBeGreaterThanOrEqual(400);
    expect(await live(a)).toBe(0);
    const rows = async () =>
      (
        (await (await b.api('/api/v1/sessions/fenced/history')).json()).data as Array<{ role: string; status: string }>
      ).map((m) => [m.role, m.status]);
    // A did not record the lost turn's end: that is the new owner's to do.
    expect(await rows()).toEqual([
      ['user', 'ok'],
      ['assistant', 'ok'],
      ['user', 'ok'],
    ]);
    expect((await chat(b, 'fenced', 'on the new owner')).status).toBe(200);
    expect(promptTexts(model.mainRequests().findLast((r) => r.prompt === 'on the new owner')!)).toContain('first on A');
    expect(await rows()).toEqual([
      ['user', 'ok'],
      ['assistant', 'ok'],
      ['user', 'ok'],
      ['assistant', 'interrupted'],
      ['user', 'ok'],
      ['assistant', 'ok'],
    ]);
    expect((await a.api('/api/v1/sessions/fenced', { method: 'DELETE' })).status).toBe(204);
    expect(await live(b)).toBe(0);
  });

  it('a paused owner that passes the Redis check after B took its session over still writes nothing: the SQL fence holds', async () => {
    await create(a, 'sqlfence');
    expect((await chat(a, 'sqlfence', 'first on A')).status).toBe(200);
    const id = (await (await a.api('/api/v1/sessions/sqlfence')).json()).data.id as string;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    model.script({ match: 'held on A', steps: [{ after: gate, text: 'the late answer of A' }] });
    const pending = chat(a, 'sqlfence', 'held on A');
    await model.waitFor((r) => r.prompt === 'held on A');
    const redis = await connectRedis(REDIS_TEST_URL);
    const leaseKey = `${prefix}lease:${id}`;
    try {
      const mine = await redis.get(leaseKey);
      expect(mine).toMatch(/^node-a\|\d+$/);
      // A pauses (its timers stop) and its lease lapses: B takes the session over, at a later epoch, and records
      // A's unfinished turn as interrupted.
      a.proc.child.kill('SIGSTOP');
      try {
        await redis.del(leaseKey);
        const onB = await chat(b, 'sqlfence', 'taken over by B');
        expect(onB.status).toBe(200);
        // A's answer from Redis is stale, as if read just before the pause: its lease is back as it knew it.
        await redis.set(leaseKey, mine!, 'PX', 60_000);
      } finally {
        a.proc.child.kill('SIGCONT');
      }
    } finally {
      redis.disconnect();
    }
    const fencedEnds = async () =>
      Number(
        /cca_fenced_writes_total\{write="turn_end"\} (\d+)/.exec(await (await a.api('/metrics')).text())?.[1] ?? 0,
      );
    const before = await fencedEnds();
    release();
    // A's turn ends (the client got its answer), but its end lands on an epoch B raised: nothing of it is written.
    expect((await pending).status).toBe(200);
    await eventually(
      () => /"by":"sql"[^\n]*another node took this session over while its turn ran here/.test(a.proc.output()),
      30_000,
      "A's log of the fenced-out turn end",
    );
    const history = (
      (await (await b.api('/api/v1/sessions/sqlfence/history')).json()).data as Array<{
        role: string;
        status: string;
        content: string;
      }>
    ).map((m) => [m.role, m.status, m.content]);
    expect(history).toEqual([
      ['user', 'ok', 'first on A'],
      ['assistant', 'ok', expect.any(String)],
      ['user', 'ok', 'held on A'],
      ['assistant', 'interrupted', ''],
      ['user', 'ok', 'taken over by B'],
      ['assistant', 'ok', expect.any(String)],
    ]);
    expect(JSON.stringify(history)).not.toContain('the late answer of A');
    // The session's totals count the turns recorded: A's first, B's; not the fenced-out one.
    expect((await (await b.api('/api/v1/sessions/sqlfence')).json()).data).toMatchObject({ totals: { turns: 2 } });
    expect(await fencedEnds()).toBe(before + 1);
    expect((await a.api('/api/v1/sessions/sqlfence', { method: 'DELETE' })).status).toBe(204);
  });

  it('SIGKILL of the owner mid-turn: B replays its events (Last-Event-ID) and the next turn on B resumes the conversation', async () => {
    await create(a, 'takeover');
    expect((await chat(a, 'takeover', 'kept before the kill')).status).toBe(200);
    model.script({ match: 'killed-mid-turn', steps: [{ stall: 'half an answer' }] });
    const stream = await a.api('/api/v1/sessions/takeover/chat/stream', {
      method: 'POST',
      json: { message: 'killed-mid-turn' },
    });
    expect(stream.status).toBe(200);
    const reader = readSse(stream);
    for (let e = await reader.next(); e && e.event !== 'text'; e = await reader.next());
    const firstId = reader.events[0]!.id;
    const lastSeen = reader.events.at(-1)!.id;
    a.proc.child.kill('SIGKILL');
    await a.proc.exited;
    await waitForNoCliProcesses({ under: baseEnv.DATA_DIR }, 20_000);

    // A does not answer any more: B replays its events from Redis.
    const replay = await b.api(`/api/v1/sessions/takeover/chat/stream?last_event_id=${firstId}`);
    expect(replay.status).toBe(200);
    const replayed = await readSse(replay).all();
    expect(replayed[0]!.id).toBe(firstId + 1);
    expect(replayed.at(-1)!.id).toBeGreaterThanOrEqual(lastSeen);

    // The dead owner's lease still stands for up to SESSION_LEASE_SECONDS: 503 owner-unavailable with Retry-After.
    let next = await chat(b, 'takeover', 'after the takeover');
    while (next.status === 503) {
      const problem = await next.json();
      expect(problem.type).toBe('/problems/owner-unavailable');
      expect(Number(next.headers.get('retry-after'))).toBeLessThanOrEqual(LEASE_SECONDS);
      await new Promise((r) => setTimeout(r, 250)); // waiting out the dead node's lease
      next = await chat(b, 'takeover', 'after the takeover');
    }
    expect(next.status).toBe(200);
    const request = model.mainRequests().findLast((r) => r.prompt === 'after the takeover')!;
    expect(promptTexts(request)).toContain('kept before the kill');
    const history = (await (await b.api('/api/v1/sessions/takeover/history')).json()).data as Array<{
      role: string;
      content: string;
      status: string | null;
    }>;
    expect(history.map((m) => [m.role, m.status])).toEqual([
      ['user', 'ok'],
      ['assistant', 'ok'],
      ['user', 'ok'],
      ['assistant', 'interrupted'],
      ['user', 'ok'],
      ['assistant', 'ok'],
    ]);
    expect(await live(b)).toBe(1);
    // A restarted node takes its place; the session stays with B.
    a = await startNode('node-a');
    expect((await chat(a, 'takeover', 'forwarded to the new owner')).status).toBe(200);
    expect(await live(a)).toBe(0);
    expect((await a.api('/api/v1/sessions/takeover', { method: 'DELETE' })).status).toBe(204);
  });

  const newKey = async (body: Record<string, unknown>) => {
    const res = await apiOf(a.proc.url, ADMIN_KEY)('/api/v1/keys', { method: 'POST', json: { name: 'k', ...body } });
    expect(res.status).toBe(201);
    const data = (await res.json()).data as { secret: string; tenant: string };
    tenants.set(data.secret, data.tenant);
    return data.secret;
  };
  const tenants = new Map<string, string>();

  it("a key's rate limit counts its requests on both nodes", async () => {
    const key = await newKey({ rate_limit: 4 });
    const statuses = [];
    for (const node of [a, b, a, b, a]) statuses.push((await apiOf(node.proc.url, key)('/api/v1/sessions')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });

  it('a request forwarded to the owner counts once against the rate limit', async () => {
    const key = await newKey({ rate_limit: 3 });
    const onA = apiOf(a.proc.url, key);
    const onB = apiOf(b.proc.url, key);
    expect((await onA('/api/v1/sessions', { method: 'POST', json: { name: 'counted' } })).status).toBe(201); // 1
    expect(
      (await onA('/api/v1/sessions/counted/chat', { method: 'POST', json: { message: 'hold it on A' } })).status,
    ).toBe(200); // 2
    const attached = await onB('/api/v1/sessions/counted/chat/stream'); // 3, forwarded to A and not counted there
    expect(attached.status).toBe(200);
    const events = await readSse(attached).all();
    expect(events.at(-1)?.event).toBe('result');
    expect((await onB('/api/v1/sessions')).status).toBe(429);
    expect((await apiOf(a.proc.url, KEY)('/api/v1/sessions')).status).toBe(200);
    // Its process on A ends (with the admin key, acting as that key's tenant).
    const removed = await apiOf(b.proc.url, ADMIN_KEY)('/api/v1/sessions/counted', {
      method: 'DELETE',
      headers: { 'x-tenant': tenants.get(key)! },
    });
    expect(removed.status).toBe(204);
    expect(await live(a)).toBe(0);
  });

  it('a session a worker node runs is refused with 409 session-on-worker, not forwarded', async () => {
    await create(a, 'on-worker');
    const id = (await (await a.api('/api/v1/sessions/on-worker')).json()).data.id as string;
    const redis = await connectRedis(REDIS_TEST_URL);
    try {
      // A worker node that runs a job on this session, as it announces itself and holds the lease.
      await redis.set(
        `${prefix}node:node-w9`,
        JSON.stringify({
          id: 'node-w9',
          url: 'http://127.0.0.1:9',
          role: 'worker',
          started_at: new Date().toISOString(),
        }),
        'PX',
        60_000,
      );
      await redis.set(`${prefix}lease:${id}`, 'node-w9|1', 'PX', 60_000);
      const res = await chat(b, 'on-worker', 'while the job runs');
      expect(res.status).toBe(409);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect((await res.json()).type).toBe('/problems/session-on-worker');
      expect(model.mainRequests().some((r) => r.prompt === 'while the job runs')).toBe(false);
    } finally {
      await redis.del(`${prefix}lease:${id}`, `${prefix}node:node-w9`);
      redis.disconnect();
    }
    expect((await a.api('/api/v1/sessions/on-worker', { method: 'DELETE' })).status).toBe(204);
  });

  it("a key's budget holds across nodes: a turn on A holds what is left, so a turn on B waits (429 with Retry-After)", async () => {
    const key = await newKey({ budget_usd: 50 });
    const onA = apiOf(a.proc.url, key);
    const onB = apiOf(b.proc.url, key);
    expect((await onA('/api/v1/sessions', { method: 'POST', json: { name: 'spend-a' } })).status).toBe(201);
    expect((await onA('/api/v1/sessions', { method: 'POST', json: { name: 'spend-b' } })).status).toBe(201);
    model.script({ match: 'long spend', steps: [{ text: ['a ', 'b ', 'c ', 'd ', 'e'], chunkDelayMs: 400 }] });
    const running = onA('/api/v1/sessions/spend-a/chat', { method: 'POST', json: { message: 'long spend' } });
    await model.waitFor((r) => r.prompt === 'long spend');
    const refused = await onB('/api/v1/sessions/spend-b/chat', { method: 'POST', json: { message: 'meanwhile' } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    const problem = await refused.json();
    expect(problem.type).toBe('/problems/key-budget-exceeded');
    expect(problem.reserved_usd).toBeGreaterThan(0);
    expect(model.mainRequests().some((r) => r.prompt === 'meanwhile')).toBe(false);
    expect((await running).status).toBe(200);
    // Settled: the hold is gone on every node, and the next turn runs.
    expect(
      (await onB('/api/v1/sessions/spend-b/chat', { method: 'POST', json: { message: 'afterwards' } })).status,
    ).toBe(200);
    for (const name of ['spend-a', 'spend-b'])
      expect((await onB(`/api/v1/sessions/${name}`, { method: 'DELETE' })).status).toBe(204);
  });

  it('a worker node serves health and metrics only', async () => {
    const { proc, api } = await cluster.startNode('node-w', { NODE_ROLE: 'worker' });
    try {
      expect((await api('/api/v1/sessions')).status).toBe(404);
      const ready = await api('/api/v1/health/ready');
      expect(ready.status).toBe(200);
      expect((await ready.json()).data.node).toMatchObject({ id: 'node-w', role: 'worker', leases_held: 0 });
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  });

  it("a node that starts later leaves the pending approvals of another node's running turn alone", async () => {
    const name = 'ask-late';
    const created = await a.api('/api/v1/sessions', {
      method: 'POST',
      json: { name, permission_rules: { ask: ['Write'] } },
    });
    expect(created.status).toBe(201);
    model.script({
      match: 'late-node-approval',
      steps: [{ tool: { name: 'Write', input: { file_path: '{{cwd}}/late.txt', content: 'x' } } }, { text: 'wrote' }],
    });
    const streamed = await a.api(`/api/v1/sessions/${name}/chat/stream`, {
      method: 'POST',
      json: { message: 'late-node-approval' },
    });
    expect(streamed.status).toBe(200);
    const events = readSse(streamed);
    let approval: { id: string } | undefined;
    while (!approval) {
      const e = await events.next();
      if (!e) throw new Error('the stream ended before the approval');
      if (e.event === 'approval') approval = e.data as { id: string };
    }

    const c = await startNode('node-c');
    try {
      const pending = (await (await c.api(`/api/v1/sessions/${name}/approvals`)).json()).data as Array<{ id: string }>;
      expect(pending.map((p) => p.id)).toEqual([approval.id]);
      // Answered through the new node: forwarded to the owner, whose turn goes on.
      const answered = await c.api(`/api/v1/sessions/${name}/approvals/${approval.id}`, {
        method: 'POST',
        json: { decision: 'allow' },
      });
      expect(answered.status).toBe(200);
      const rest = await events.all();
      expect(rest.at(-1)).toMatchObject({ event: 'result', data: { content: 'wrote' } });
    } finally {
      c.proc.child.kill('SIGTERM');
      await c.proc.exited;
    }
  });
});
