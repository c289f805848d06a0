// Request time limits over real sockets: a stalled upload is cut (no partial file left), a trickled body gets 408, idle connections close, and a long turn after its body is in is not cut.
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEMP_PREFIX } from '../../src/workspace/temp-names.js';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';
import { eventually } from '../support/wait.js';

const ctx = useTestServer({
  REQUEST_TIMEOUT_SECONDS: '2',
  BODY_IDLE_TIMEOUT_SECONDS: '1',
  KEEP_ALIVE_TIMEOUT_SECONDS: '1',
});

/** A raw client socket: what it received, and a promise of its close with the time it took since `open`. */
async function open(): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { hostname, port } = new URL(ctx.t.url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const started = Date.now();
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
  return { socket, received: () => Buffer.concat(chunks).toString('utf8'), closed };
}

const head = (method: string, path: string, headers: Record<string, string | number>) =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${KEYS[0]}\r\n` +
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('') +
  '\r\n';

/** Status and problem document of a raw HTTP/1.1 response. */
function parse(raw: string): { status: number; headers: string; body: any } {
  const [top = '', body = ''] = raw.split('\r\n\r\n');
  return { status: Number(top.split(' ')[1]), headers: top.toLowerCase(), body: body ? JSON.parse(body) : undefined };
}

const workspace = () => join(ctx.t.dirs.workspaces);
const temps = () =>
  readdirSync(workspace(), { recursive: true, encoding: 'utf8' }).filter((p) =>
    p.split('/').pop()!.startsWith(TEMP_PREFIX),
  );

beforeAll(async () => {
  const res = await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name: 'slow' } });
  expect(res.status).toBe(201);
  ctx.model.script({
    match: 'take-your-time',
    steps: [{ text: ['one ', 'two ', 'three ', 'four'], chunkDelayMs: 700 }],
  });
});

describe('request time limits', () => {
  it('closes an upload whose body stalls (BODY_IDLE_TIMEOUT_SECONDS) and leaves no partial file', async () => {
    const c = await open();
    const boundary = 'cca-boundary';
    const part = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    c.socket.write(
      head('POST', '/api/v1/sessions/slow/files', {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': 1_000_000,
      }),
    );
    c.socket.write(part + 'x'.repeat(64 * 1024));
    // The upload's temp file is being written, then nothing more comes.
    await eventually(() => temps().length > 0, 30_000, 'the upload temp file');
    const after = await c.closed;
    expect(after).toBeGreaterThanOrEqual(900);
    expect(after).toBeLessThan(15_000);
    // Cut by the stall, not by REQUEST_TIMEOUT_SECONDS (which would have answered 408 first).
    expect(c.received()).toBe('');
    await eventually(() => temps().length === 0, 30_000, 'the partial upload to be removed');
    expect(readdirSync(workspace(), { recursive: true, encoding: 'utf8' })).not.toContain(
      expect.stringContaining('big.bin'),
    );
    const list = await ctx.t.request('/api/v1/sessions/slow/files');
    expect(JSON.stringify(await list.json())).not.toContain('big.bin');
  });

  it('answers a body trickled too slowly for REQUEST_TIMEOUT_SECONDS with a 408 problem, and creates nothing', async () => {
    const c = await open();
    const body = JSON.stringify({ name: 'never-made', system_prompt: 'x'.repeat(200) });
    c.socket.write(
      head('POST', '/api/v1/sessions', { 'content-type': 'application/json', 'content-length': body.length }),
    );
    // A byte every 250 ms keeps the body from stalling, but it would take ~55 s to arrive.
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < body.length && !c.socket.destroyed) c.socket.write(body[sent++]!);
    }, 250);
    const after = await c.closed;
    clearInterval(trickle);
    expect(after).toBeGreaterThanOrEqual(1_900);
    expect(after).toBeLessThan(15_000);
    const res = parse(c.received());
    expect(res.status).toBe(408);
    expect(res.headers).toContain('content-type: application/problem+json');
    expect(res.body).toMatchObject({ type: '/problems/request-timeout', status: 408 });
    expect(res.body.detail).toContain('REQUEST_TIMEOUT_SECONDS');
    expect((await ctx.t.request('/api/v1/sessions/never-made')).status).toBe(404);
  });

  it('closes a connection that never finishes its headers, with a 408 problem', async () => {
    const c = await open();
    c.socket.write('GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const after = await c.closed;
    expect(after).toBeLessThan(15_000);
    expect(parse(c.received())).toMatchObject({ status: 408, body: { type: '/problems/request-timeout' } });
  });

  it('closes an idle keep-alive connection after KEEP_ALIVE_TIMEOUT_SECONDS', async () => {
    const c = await open();
    c.socket.write(head('GET', '/api/v1/sessions', { connection: 'keep-alive' }));
    await eventually(() => c.received().includes('\r\n\r\n'), 30_000, 'the response');
    expect(parse(c.received()).status).toBe(200);
    const after = await c.closed;
    expect(after).toBeGreaterThanOrEqual(900);
    expect(after).toBeLessThan(15_000);
  });

  it('lets a request whose body is in wait for a turn longer than both limits', async () => {
    const started = Date.now();
    const res = await ctx.t.request('/api/v1/sessions/slow/chat', {
      method: 'POST',
      json: { message: 'take-your-time please' },
    });
    expect(res.status).toBe(200);
    expect((await res.json()).data.content).toContain('four');
    expect(Date.now() - started).toBeGreaterThan(2_000);
  });
});
