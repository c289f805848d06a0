// Tenancy everywhere: a walk over EVERY route of /openapi.json with a second tenant's key against the first tenant's resources.
// Routes added later (jobs, files, templates, MCP …) are picked up from the document: their path parameters are filled with
// the first tenant's names and ids, their bodies generated minimal and valid from their schemas.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { WILDCARD_PARAM } from '../../src/http/plugins/openapi.js';
import { tenantOf } from '../../src/security/api-keys.js';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';
import { eventually } from '../support/wait.js';
import { createSession } from '../support/sessions.js';

const ADMIN = 'tenancy-admin-key-0001';
const [ALICE, BOB] = KEYS;
const SESSION = 'alpha-private-7f3a';
/** The files routes' path parameter: the rest of the URL, sent as it is. */
const FILE_PARAM = WILDCARD_PARAM;
const SECRET_FILE = 'walk-secret.txt';
const SECRET_CONTENT = `alice-only-content-${Date.now()}`;
const HARVEST_FILE = 'walk-harvest.txt';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
/** Who the generated bodies speak for (a message Bob sends must never show up in Alice's history). */
let sender = 'alice';

type Json = any;
interface Operation {
  method: (typeof METHODS)[number];
  path: string;
  op: Json;
  params: string[];
  public: boolean;
}

const ctx = useTestServer({ ADMIN_API_KEYS: ADMIN });
let doc: Json;
let aliceSession: Json;
/** Values of Alice's resources, by the path parameter they fill. */
const candidates: Record<string, string[]> = {};
/** Strings that must never reach Bob: Alice's ids, tenant, workspace, file content. */
const markers: string[] = [];

function addCandidate(param: string, value: unknown): void {
  if (typeof value !== 'string' && typeof value !== 'number') return;
  const list = (candidates[param] ??= []);
  if (!list.includes(String(value))) list.push(String(value));
}

function operations(): Operation[] {
  const out: Operation[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      out.push({ method, path, op, params, public: Array.isArray(op.security) && op.security.length === 0 });
    }
  }
  return out;
}

/** Resolves a local `$ref` of the document. */
function deref(schema: Json): Json {
  if (schema && typeof schema.$ref === 'string' && schema.$ref.startsWith('#/')) {
    return deref(
      schema.$ref
        .slice(2)
        .split('/')
        .reduce((node: Json, key: string) => node?.[key], doc),
    );
  }
  return schema;
}

const PLAIN_STRINGS = [
  'walk-b',
  'walkb',
  'a',
  'x1',
  'Walk',
  'hello',
  '1',
  '00000000-0000-0000-0000-000000000000',
  'key_0000000000000000',
];

function stringFor(schema: Json, field: string): string {
  if (schema.format === 'date-time') return new Date().toISOString();
  if (schema.format === 'uri' || /url/i.test(field)) return 'https://example.com/hook';
  if (/session/i.test(field)) return SESSION;
  if (field === 'message' || field === 'prompt') return `hello from the tenancy walk (${sender})`;
  const fits = (s: string) =>
    (schema.pattern === undefined || new RegExp(schema.pattern).test(s)) &&
    s.length >= (schema.minLength ?? 0) &&
    s.length <= (schema.maxLength ?? Infinity);
  const found = PLAIN_STRINGS.find(fits);
  if (found) return found;
  return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
}

/** A minimal valid value of a JSON schema; `field` is the property it fills (its name steers string choices). */
function sample(raw: Json, field = ''): Json {
  const schema = deref(raw) ?? {};
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (schema.default !== undefined && typeof schema.default !== 'object') return schema.default;
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[key])) {
      const option = schema[key].map(deref).find((s: Json) => s.type !== 'null') ?? schema[key][0];
      return sample(option, field);
    }
  }
  if (Array.isArray(schema.allOf)) return Object.assign({}, ...schema.allOf.map((s: Json) => sample(s, field)));
  const type = Array.isArray(schema.type) ? schema.type.find((x: string) => x !== 'null') : schema.type;
  switch (type ?? (schema.properties ? 'object' : undefined)) {
    case 'object': {
      const out: Record<string, Json> = {};
      const props = schema.properties ?? {};
      for (const key of Object.keys(props)) {
        if ((schema.required ?? []).includes(key) || /^session/.test(key)) out[key] = sample(props[key], key);
      }
      return out;
    }
    case 'array':
      return schema.minItems > 0 ? [sample(schema.items, field)] : [];
    case 'string':
      return stringFor(schema, field);
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
    case 'boolean':
      return false;
    default:
      return field === 'message' ? 'hello' : 'x';
  }
}

/** The body of an operation, in the first content type it accepts. */
function bodyOf(op: Json): { body?: string | FormData; headers: Record<string, string> } {
  const content = op.requestBody?.content;
  if (!content) return { headers: {} };
  const type = Object.keys(content)[0]!;
  const schema = content[type]?.schema ?? {};
  if (type === 'application/json')
    return { body: JSON.stringify(sample(schema)), headers: { 'content-type': 'application/json' } };
  if (type === 'multipart/form-data') {
    const form = new FormData();
    const props = deref(schema).properties ?? { file: {} };
    for (const key of Object.keys(props)) form.append(key, new Blob(['walk bytes\n']), 'walk.txt');
    return { body: form, headers: {} };
  }
  return { body: 'walk bytes\n', headers: { 'content-type': type } };
}

function queryOf(op: Json): string {
  const required = (op.parameters ?? []).filter((p: Json) => p.in === 'query' && p.required);
  if (required.length === 0) return '';
  return `?${required.map((p: Json) => `${encodeURIComponent(p.name)}=${encodeURIComponent(String(sample(p.schema, p.name)))}`).join('&')}`;
}

function paramSchema(op: Json, name: string): Json {
  return deref((op.parameters ?? []).find((p: Json) => p.in === 'path' && p.name === name)?.schema ?? {});
}

const fitsParam = (schema: Json, value: string) =>
  schema.pattern === undefined || new RegExp(schema.pattern).test(value);

/** Every combination of Alice's values for the path parameters that their schemas accept (at most 6). */
function fillings(o: Operation, values: (param: string) => string[]): Array<Record<string, string>> {
  let combos: Array<Record<string, string>> = [{}];
  for (const param of o.params) {
    const schema = paramSchema(o.op, param);
    const options = values(param).filter((v) => fitsParam(schema, v));
    combos = combos.flatMap((c) => options.map((v) => ({ ...c, [param]: v })));
  }
  return combos.slice(0, 6);
}

function urlOf(path: string, fill: Record<string, string>): string {
  return path.replace(/\{([^}]+)\}/g, (_, p: string) => (p === FILE_PARAM ? fill[p]! : encodeURIComponent(fill[p]!)));
}

async function send(
  o: Operation,
  fill: Record<string, string>,
  key: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const { body, headers: bodyHeaders } = bodyOf(o.op);
  const res = await ctx.t.request(`${urlOf(o.path, fill)}${queryOf(o.op)}`, {
    method: o.method.toUpperCase(),
    key,
    headers: { ...bodyHeaders, ...headers, accept: 'application/json, text/event-stream' },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  // SSE answers (which Bob should never get) are not read to the end.
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, text: '(event stream)' };
  }
  return { status: res.status, text: withoutInstance(await res.text()) };
}

/** A problem's `instance` only repeats the path the caller sent: leave it out when looking for leaks. */
function withoutInstance(text: string): string {
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && 'instance' in parsed) delete parsed.instance;
    return JSON.stringify(parsed);
  } catch {
    return text;
  }
}

/** Alice's values for a parameter, else (for parameters of resources she has none of) a value of the right shape. */
function aliceValues(param: string): string[] {
  const own = candidates[param] ?? [];
  if (param === FILE_PARAM) return [SECRET_FILE, HARVEST_FILE];
  if (own.length > 0) return own;
  return Object.values(candidates).flat();
}

/** The same parameters pointing at things that exist for nobody. */
function nobodyValues(param: string): string[] {
  if (param === FILE_PARAM) return ['no-such-file.txt'];
  return [
    'zz-nobody-1',
    '00000000-0000-4000-8000-000000000000',
    'key_00000000000000ff',
    'env_00000000000000ff',
    '999999999',
  ];
}

async function snapshot() {
  const history = await (await ctx.t.request(`/api/v1/sessions/${SESSION}/history?limit=100`, { key: ALICE })).json();
  const session = await (await ctx.t.request(`/api/v1/sessions/${SESSION}`, { key: ALICE })).json();
  return {
    history: history.meta.pagination.total as number,
    turns: session.data.totals.turns as number,
    options: session.data.options,
    working_dir: session.data.working_dir,
  };
}

beforeAll(async () => {
  doc = await (await ctx.t.request('/openapi.json', { key: null })).json();

  // Alice's resources: a session with history and a file, plus whatever each other create route gives her.
  const created = await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name: SESSION }, key: ALICE });
  expect(created.status).toBe(201);
  aliceSession = (await created.json()).data;
  expect(
    (
      await ctx.t.request(`/api/v1/sessions/${SESSION}/chat`, {
        method: 'POST',
        json: { message: 'hello, alice here' },
        key: ALICE,
      })
    ).status,
  ).toBe(200);
  writeFileSync(join(aliceSession.workspace, SECRET_FILE), SECRET_CONTENT);
  addCandidate('name', SESSION);
  addCandidate('session', SESSION);
  addCandidate('id', aliceSession.id);
  const key = await (
    await ctx.t.request('/api/v1/keys', { method: 'POST', json: { name: 'an admin-made key' }, key: ADMIN })
  ).json();
  addCandidate('id', key.data.id);
  markers.push(aliceSession.id, tenantOf(ALICE), aliceSession.workspace, SECRET_CONTENT, key.data.secret);

  for (const o of operations()) {
    const creates = (o.method === 'post' || o.method === 'put') && !o.public;
    const onlySession = o.params.every((p) => p === 'name' || p === FILE_PARAM);
    if (!creates || !onlySession || /\/(chat|interrupt|repo)\b/.test(o.path) || o.path.endsWith('/sessions')) continue;
    const res = await send(o, { name: SESSION, [FILE_PARAM]: HARVEST_FILE }, ALICE);
    if (res.status >= 300) continue;
    const data = JSON.parse(res.text)?.data;
    for (const item of Array.isArray(data) ? data : [data]) {
      if (item?.id !== undefined) {
        // Parameters named otherwise (`job_id` …) get every harvested value (see aliceValues).
        addCandidate('id', item.id);
        if (typeof item.id === 'string' && item.id.length >= 8) markers.push(item.id);
      }
      if (typeof item?.name === 'string' && item.name !== SESSION) addCandidate('name', item.name);
    }
  }
  // Background work Alice started (jobs) settles before the state is compared.
  await eventually(
    async () => !(await (await ctx.t.request(`/api/v1/sessions/${SESSION}`, { key: ALICE })).json()).data.busy,
    60_000,
    "alice's session to be idle",
  );
});

describe("the walk over every route of /openapi.json with another tenant's key", () => {
  beforeAll(() => {
    sender = 'bob';
  });

  it('finds the routes: sessions, chat, history, keys, audit, usage, tokens and whatever else is documented', () => {
    const paths = operations().map((o) => `${o.method.toUpperCase()} ${o.path}`);
    for (const expected of [
      'POST /api/v1/sessions',
      'GET /api/v1/sessions/{name}',
      'DELETE /api/v1/sessions/{name}',
      'POST /api/v1/sessions/{name}/chat',
      'POST /api/v1/sessions/{name}/chat/stream',
      'GET /api/v1/sessions/{name}/history',
      'POST /api/v1/keys',
      'DELETE /api/v1/keys/{id}',
      'GET /api/v1/audit',
      'GET /api/v1/usage',
      'POST /api/v1/tokens/count',
    ]) {
      expect(paths).toContain(expected);
    }
  });

  it("every route on one of Alice's resources: 404 (403 for admin-only), the same as for a resource nobody has; never 2xx or 5xx", async () => {
    const results: string[] = [];
    const unwalkable: string[] = [];
    let walked = 0;
    for (const o of operations().filter((x) => x.params.length > 0 && !x.public)) {
      const fills = fillings(o, aliceValues);
      const twins = fillings(o, nobodyValues);
      if (fills.length === 0 || twins.length === 0) {
        unwalkable.push(`${o.method.toUpperCase()} ${o.path}`);
        continue;
      }
      const nobody = await send(o, twins[0]!, BOB);
      for (const fill of fills) {
        const res = await send(o, fill, BOB);
        walked++;
        const label = `${o.method.toUpperCase()} ${urlOf(o.path, fill)} → ${res.status} (nobody's: ${nobody.status})`;
        results.push(label);
        expect(res.status, label).toBeGreaterThanOrEqual(400);
        expect(res.status, label).toBeLessThan(500);
        // No existence oracle: Alice's resource answers exactly like a resource that does not exist.
        expect(res.status, label).toBe(nobody.status);
        if (![403, 404].includes(res.status)) {
          // Only a request refused before any lookup (its own shape) may answer otherwise.
          expect([400, 409, 413, 415, 422], label).toContain(res.status);
        }
        for (const m of markers) expect(res.text, `${label} leaks ${m}`).not.toContain(m);
      }
    }
    if (process.env.TENANCY_WALK_VERBOSE) console.log(results.join('\n'));
    expect(unwalkable, 'routes whose path parameters could not be filled').toEqual([]);
    expect(walked).toBeGreaterThanOrEqual(10);
    // The core session routes answer exactly 404.
    for (const needle of [
      `GET /api/v1/sessions/${SESSION} `,
      `DELETE /api/v1/sessions/${SESSION} `,
      `/sessions/${SESSION}/chat `,
      `/sessions/${SESSION}/history `,
    ]) {
      const line = results.find((r) => r.includes(needle));
      expect(line, needle).toMatch(/→ 404 /);
    }
    for (const line of results.filter((r) => r.includes('/api/v1/keys/'))) expect(line).toMatch(/→ 403 /);
  });

  it("every collection route answers Bob with his own data only (no trace of Alice's), and never a 5xx", async () => {
    for (const o of operations().filter((x) => x.params.length === 0)) {
      const res = await send(o, {}, BOB);
      const label = `${o.method.toUpperCase()} ${o.path} → ${res.status}`;
      expect(res.status, label).toBeLessThan(500);
      for (const m of markers) expect(res.text, `${label} leaks ${m}`).not.toContain(m);
      if (o.path.startsWith('/api/v1/keys')) expect(res.status, label).toBe(403);
    }
  });

  it("Bob cannot borrow Alice's tenant with X-Tenant: 403 on every non-public route", async () => {
    for (const o of operations().filter((x) => !x.public)) {
      const fill = fillings(o, aliceValues)[0];
      if (!fill) continue;
      const res = await send(o, fill, BOB, { 'x-tenant': tenantOf(ALICE) });
      expect(res.status, `${o.method.toUpperCase()} ${o.path}`).toBe(403);
    }
  });

  it("after all of it Alice's session, history, file and settings are untouched", async () => {
    const res = await ctx.t.request(`/api/v1/sessions/${SESSION}`, { key: ALICE });
    expect(res.status).toBe(200);
    const now = await snapshot();
    expect(now.turns).toBeGreaterThanOrEqual(1);
    expect(now.working_dir).toBe(aliceSession.working_dir);
    const history = await (await ctx.t.request(`/api/v1/sessions/${SESSION}/history?limit=100`, { key: ALICE })).json();
    expect(history.data.every((m: Json) => !String(m.content).includes('(bob)'))).toBe(true);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(aliceSession.workspace, SECRET_FILE), 'utf8')).toBe(SECRET_CONTENT);
  });
});

describe('admin sees all', () => {
  it("lists every tenant's sessions with their owner, and acts for a tenant with X-Tenant", async () => {
    await createSession(ctx.t, 'bob-own', {}, BOB);
    const all = await (await ctx.t.request('/api/v1/sessions?limit=100', { key: ADMIN })).json();
    const owners = Object.fromEntries(all.data.map((s: Json) => [s.name, s.owner]));
    expect(owners[SESSION]).toBe(tenantOf(ALICE));
    expect(owners['bob-own']).toBe(tenantOf(BOB));

    const bobList = await (await ctx.t.request('/api/v1/sessions?limit=100', { key: BOB })).json();
    expect(bobList.data.map((s: Json) => s.name)).not.toContain(SESSION);

    const asAlice = await ctx.t.request(`/api/v1/sessions/${SESSION}/history`, {
      key: ADMIN,
      headers: { 'x-tenant': tenantOf(ALICE) },
    });
    expect(asAlice.status).toBe(200);
    expect((await ctx.t.request(`/api/v1/sessions/${SESSION}`, { key: ADMIN })).status).toBe(404);
  });
});
