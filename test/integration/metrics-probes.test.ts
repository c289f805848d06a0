// Prometheus metrics and the liveness/readiness probes, on a running server with real turns.
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { createSession } from '../support/sessions.js';

const ctx = useTestServer();

describe('metrics', () => {
  it('needs an API key by default and reports HTTP, engine, turn, tool, cost and token metrics', async () => {
    expect((await ctx.t.request('/metrics', { key: null })).status).toBe(401);
    await createSession(ctx.t, 'm');
    ctx.model.script({
      match: 'metric-tool',
      steps: [{ tool: { name: 'Write', input: { file_path: '{{cwd}}/m.txt', content: 'm' } } }, { text: 'ok' }],
    });
    expect(
      (await ctx.t.request('/api/v1/sessions/m/chat', { method: 'POST', json: { message: 'metric-tool' } })).status,
    ).toBe(200);

    for (let i = 0; i < 2; i++) expect((await ctx.t.request('/api/v1/sessions')).status).toBe(200); // the second from the read cache

    const res = await ctx.t.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(
      /cca_http_request_duration_seconds_count\{method="POST",route="\/api\/v1\/sessions\/:name\/chat",status="200"\} 1/,
    );
    expect(text).toMatch(/cca_live_cli_processes 1/);
    expect(text).toMatch(/cca_turn_queue_depth 0/);
    expect(text).toMatch(/cca_node_info\{node="[^"]+",role="all"\} 1/);
    expect(text).toMatch(/cca_session_leases_held 0/);
    expect(text).toMatch(/cca_job_queue_depth\{state="waiting"\} 0/);
    expect(text).toMatch(/cca_turns_total\{status="ok",model="[^"]+"\} 1/);
    expect(text).toMatch(/cca_tool_calls_total\{tool="Write"\} 1/);
    expect(text).toMatch(/cca_cost_usd_total\{model="[^"]+"\} 0\.\d+/);
    expect(text).toMatch(/cca_tokens_total\{model="[^"]+",kind="input"\} \d+/);
    expect(text).toMatch(/cca_turn_queue_wait_seconds_count 1/);
    expect(text).toMatch(/cca_process_resident_memory_bytes \d+/);
    expect(text).toMatch(/cca_db_read_cache_hits_total [1-9]\d*/);
    expect(text).toMatch(/cca_db_read_cache_misses_total [1-9]\d*/);
    expect(text).toMatch(/cca_db_read_cache_bytes [1-9]\d*/);
  });

  it('can be opened with METRICS_AUTH=none, or turned off', async () => {
    await ctx.t.restart({ METRICS_AUTH: 'none' });
    expect((await ctx.t.request('/metrics', { key: null })).status).toBe(200);
    await ctx.t.restart({ METRICS_ENABLED: 'false' });
    expect((await ctx.t.request('/metrics')).status).toBe(404);
  });
});

describe('probes', () => {
  it('live is always 200 without a key; ready reports its checks and turns 503 while draining', async () => {
    const live = await ctx.t.request('/api/v1/health/live', { key: null });
    expect(live.status).toBe(200);
    const ready = await ctx.t.request('/api/v1/health/ready', { key: null });
    expect(ready.status).toBe(200);
    expect((await ready.json()).data).toEqual({
      status: 'ok',
      checks: { database: true, migrations: true, claude_cli: true, accepting_turns: true },
      node: {
        id: expect.any(String),
        role: 'all',
        url: expect.stringMatching(/^http:\/\//),
        cluster: false,
        leases_held: 0,
        live_sessions: 0,
        queue_depth: 0,
      },
    });
    await ctx.t.server.engine.shutdown(0);
    const draining = await ctx.t.request('/api/v1/health/ready', { key: null });
    expect(draining.status).toBe(503);
    expect((await draining.json()).data.checks.accepting_turns).toBe(false);
  });
});
