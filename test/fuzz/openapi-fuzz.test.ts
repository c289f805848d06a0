// Fuzzes every route of the OpenAPI document with generated valid and invalid requests: never a 5xx, every error a
// well-formed problem document, and a rejected request changes nothing in the database.
import fc from 'fast-check';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';
import { createSession } from '../support/sessions.js';

const ctx = useTestServer({ CLAUDE_TIMEOUT_SECONDS: '30' });

interface Operation {
  method: string;
  path: string;
  params: string[];
  query: Record<string, any>;
  body: any;
}

const RUNS = Number(process.env.FUZZ_RUNS ?? 25);

beforeAll(async () => {
  await createSession(ctx.t, 'fuzz');
});

/** Every operation of the served OpenAPI document (Swagger UI's own static routes aside). */
async function operations(): Promise<Operation[]> {
  const doc = await (await ctx.t.request('/openapi.json', { key: null })).json();
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    if (path.startsWith('/docs')) continue;
    for (const [method, op] of Object.entries<any>(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      const query = Object.fromEntries(
        (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => [p.name, p.schema]),
      );
      const body = op.requestBody?.content?.['application/json']?.schema;
      ops.push({ method: method.toUpperCase(), path, params, query, body });
    }
  }
  return ops;
}

/** A fingerprint of everything stored: row counts of each table (the audit trail aside: it records rejections too) and the newest session change. */
async function fingerprint(): Promise<string> {
  const db = ctx.t.server.store.db as any;
  const tables = (
    await sql<{
      name: string;
    }>`select name from sqlite_master where type = 'table' and name not like 'kysely_%' and name not like 'sqlite_%'`.execute(
      db,
    )
  ).rows.map((r) => r.name);
  const parts: string[] = [];
  for (const name of tables.filter((n) => !n.startsWith('audit')).sort()) {
    const row = (await sql<{ n: number }>`select count(*) as n from ${sql.table(name)}`.execute(db)).rows[0];
    parts.push(`${name}:${row?.n}`);
  }
  const sessions = (await sql<{ u: string }>`select max(updated_at) as u from sessions`.execute(db)).rows[0];
  return `${parts.join(',')}|${sessions?.u}`;
}

const weirdString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.constantFrom(
    '',
    ' ',
    '..',
    '../../etc/passwd',
    '%2e%2e%2f',
    '\u0000',
    'fuzz',
    'a'.repeat(5000),
    '😀'.repeat(100),
    '<script>',
    "' or 1=1 --",
    '{}',
    'null',
  ),
);
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  weirdString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(weirdString, { maxLength: 3 }),
  fc.dictionary(weirdString, weirdString, { maxKeys: 3 }),
);

/** A body built from the schema's property names with random values (sometimes the right type), or garbage. */
function bodyFor(schema: any): fc.Arbitrary<{ raw?: string; json?: unknown }> {
  const props = Object.keys(schema?.properties ?? {});
  const shaped = fc.dictionary(fc.constantFrom(...(props.length > 0 ? props : ['x']), 'unexpected'), weirdValue, {
    maxKeys: props.length + 1,
  });
  return fc.oneof(
    shaped.map((json) => ({ json })),
    weirdValue.map((json) => ({ json })),
    fc.constantFrom('{', '{"message":', 'not json', '[1,2', '\u0000').map((raw) => ({ raw })),
  );
}

function segment(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant('fuzz') },
    { weight: 3, arbitrary: weirdString.filter((s) => s.length > 0 && s.length < 300) },
  );
}

function isProblem(body: any, status: number): boolean {
  return (
    typeof body?.type === 'string' &&
    typeof body.title === 'string' &&
    body.status === status &&
    typeof body.detail === 'string' &&
    typeof body.request_id === 'string'
  );
}

/** The compatible endpoints (/v1/…) answer errors in their API's own shape: OpenAI's, or Anthropic's for /v1/messages. */
function isWireError(path: string, body: any): boolean {
  if (path.startsWith('/v1/messages'))
    return body?.type === 'error' && typeof body.error?.type === 'string' && typeof body.error.message === 'string';
  return typeof body?.error?.message === 'string' && typeof body.error.type === 'string' && 'code' in body.error;
}

describe('OpenAPI fuzz', () => {
  it('never answers 5xx, always a problem document for errors, and rejected requests change nothing', async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(8);
    const app = ctx.t.server.app;
    for (const op of ops) {
      const request = fc.record({
        params: fc.tuple(...op.params.map(() => segment())),
        query: fc.dictionary(fc.constantFrom(...Object.keys(op.query), 'junk'), weirdString.map(String), {
          maxKeys: 3,
        }),
        body: op.body ? bodyFor(op.body) : fc.constant<{ raw?: string; json?: unknown }>({}),
        contentType: fc.constantFrom(
          'application/json',
          'application/json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'application/json; charset=latin1',
        ),
        key: fc.constantFrom<string | null>(KEYS[0], KEYS[0], KEYS[1], null, 'wrong-key-xxxxxxxx'),
        requestId: fc.option(weirdString, { nil: undefined }),
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          let url = op.path;
          op.params.forEach((p, i) => (url = url.replace(`{${p}}`, encodeURIComponent(r.params[i]!))));
          const headers: Record<string, string> = {};
          if (r.key) headers['x-api-key'] = r.key;
          if (r.requestId !== undefined) headers['x-request-id'] = r.requestId.replace(/[^\x20-\x7e]/g, '?');
          const hasBody = op.method !== 'GET' && op.method !== 'DELETE';
          const payload = hasBody ? (r.body.raw ?? JSON.stringify(r.body.json ?? {})) : undefined;
          if (hasBody) headers['content-type'] = r.contentType;
          const before = await fingerprint();
          const res = await app.inject({ method: op.method, url, query: r.query, headers, payload });
          expect(res.statusCode, `${op.method} ${url} → ${res.statusCode}: ${res.body.slice(0, 300)}`).toBeLessThan(
            500,
          );
          expect(
            res.headers['x-request-id'],
            `${op.method} ${url} → ${res.statusCode} ${JSON.stringify(res.headers)}`,
          ).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
          if (res.statusCode >= 400) {
            const compat = op.path.startsWith('/v1/');
            expect(res.headers['content-type']).toMatch(compat ? /^application\/json/ : /^application\/problem\+json/);
            const body = res.json();
            const wellFormed = compat ? isWireError(op.path, body) : isProblem(body, res.statusCode);
            expect(wellFormed, JSON.stringify(body)).toBe(true);
            expect(await fingerprint(), `${op.method} ${url} was rejected but changed the database`).toBe(before);
          }
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
    }
  });
});
