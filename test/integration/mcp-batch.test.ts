// An MCP batch (JSON-RPC batch over Streamable HTTP) counts each of its messages against the caller's rate limit.
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';

const LIMIT = 6;
const ctx = useTestServer({ RATE_LIMIT_REQUESTS: String(LIMIT), RATE_LIMIT_WINDOW: '600' });

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

const post = (body: unknown, key: string) =>
  ctx.t.request('/mcp', {
    method: 'POST',
    key,
    json: body,
    headers: { accept: 'application/json, text/event-stream' },
  });

/** The JSON-RPC answers in a Streamable HTTP response (JSON, or SSE `data:` lines). */
async function answers(res: Response): Promise<Array<{ id: number; result?: unknown; error?: unknown }>> {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').includes('application/json')) return [JSON.parse(text)].flat();
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)))
    .flat();
}

describe('MCP batch and the rate limit', () => {
  it('runs a batch within the limit and counts each of its calls; a batch past the limit is refused whole (429)', async () => {
    const key = KEYS[1];
    const first = await post(
      [call(1, 'list_sessions'), call(2, 'list_sessions'), call(3, 'list_sessions'), call(4, 'list_sessions')],
      key,
    );
    expect(first.status).toBe(200);
    expect((await answers(first)).map((a) => a.id).sort()).toEqual([1, 2, 3, 4]);

    // 4 counted: one more single request is the 5th.
    const single = await post(call(5, 'list_sessions'), key);
    expect(single.status).toBe(200);
    await single.text();

    // 5 + 2 > 6: refused before any of it runs (its create_session creates nothing).
    const over = await post([call(6, 'create_session', { name: 'batch-made' }), call(7, 'list_sessions')], key);
    expect(over.status).toBe(429);
    expect(over.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await over.json()).toMatchObject({ status: 429, limit: LIMIT });
    const sessions = await ctx.t.request('/api/v1/sessions', { key });
    expect(sessions.status).toBe(429);

    // The other key's count is its own.
    const other = await post([call(1, 'create_session', { name: 'batch-other' }), call(2, 'list_sessions')], KEYS[0]);
    expect(other.status).toBe(200);
    expect((await answers(other)).every((a) => a.error === undefined)).toBe(true);
    const made = await ctx.t.request('/api/v1/sessions/batch-other', { key: KEYS[0] });
    expect(made.status).toBe(200);
  });

  it('refuses one batch of more calls than the limit, though it is a single HTTP request', async () => {
    const key = KEYS[0];
    const big = await post(
      Array.from({ length: LIMIT + 1 }, (_, i) => call(i + 1, 'list_sessions')),
      key,
    );
    expect(big.status).toBe(429);
  });
});
