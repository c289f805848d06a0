// The hostile-path corpus over HTTP against every files route and /repo: raw, encoded and double-encoded URLs; only 4xx problems, nothing outside touched.
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SECRET,
  buildHostileTree,
  hostileCorpus,
  snapshot,
  type HostileCase,
  type HostileTree,
} from '../workspace/hostile-corpus.js';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';

const ctx = useTestServer();
let tree: HostileTree;
let tenantDir: string;
const neighbours: string[] = [];
const neighbourIds: string[] = [];
let before: { outside: Record<string, string>; etc: Record<string, string> };
const SESSION = 'target';
const FILES = `/api/v1/sessions/${SESSION}/files`;

beforeAll(async () => {
  const res = await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name: SESSION } });
  expect(res.status).toBe(201);
  const workspace: string = (await res.json()).data.workspace;
  tenantDir = join(workspace, '..');
  // The workspace becomes the hostile tree; "outside" lives outside APPROVED_DIRECTORY altogether.
  tree = buildHostileTree(tenantDir, SESSION, ctx.t.dirs.root);
  expect(tree.base).toBe(workspace);
  // Another session of this tenant and one of another tenant, each with a secret.
  for (const [name, key] of [
    ['neighbour', KEYS[0]],
    ['elsewhere', KEYS[1]],
  ] as const) {
    const made = await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name }, key });
    expect(made.status).toBe(201);
    const data = (await made.json()).data;
    writeFileSync(join(data.workspace, 'secret.txt'), SECRET);
    neighbours.push(data.workspace);
    neighbourIds.push(data.id);
  }
  before = { outside: snapshot(tree.outside), etc: snapshot(tree.fakeEtc) };
});

/** Percent-encodes every byte except unreserved characters (so the server's single decoding gives `text` back). */
function encode(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9_~-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

interface RawResponse {
  status: number;
  type: string;
  body: string;
}

/** A request with the path exactly as given (fetch would normalize `..`). */
function raw(
  method: string,
  path: string,
  opts: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${ctx.t.url}/`,
      { method, path, headers: { 'x-api-key': KEYS[0], ...opts.headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'] ?? '',
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function multipart(
  fields: Record<string, string>,
  file: { name: string; content: string },
): { body: Buffer; type: string } {
  const boundary = '----cca-hostile-boundary';
  const parts = Object.entries(fields).map(
    ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`,
  );
  parts.push(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: application/octet-stream\r\n\r\n${file.content}\r\n--${boundary}--\r\n`,
  );
  return { body: Buffer.from(parts.join(''), 'utf8'), type: `multipart/form-data; boundary=${boundary}` };
}

function expectProblem(res: RawResponse, what: string, allowed: number[]) {
  expect(allowed, `${what} → ${res.status} ${res.body.slice(0, 200)}`).toContain(res.status);
  expect(res.type, what).toMatch(/^application\/problem\+json/);
  expect(res.body).not.toContain(SECRET);
}

function expectUntouched() {
  expect(snapshot(tree.outside)).toEqual(before.outside);
  expect(snapshot(tree.fakeEtc)).toEqual(before.etc);
  for (const n of neighbours) expect(snapshot(n)).toEqual({ 'secret.txt': SECRET });
}

const REFUSED = [400, 404, 422];

async function probe(c: HostileCase) {
  const what = `${c.why}: ${JSON.stringify(c.path)}`;
  const p = encode(c.path);
  const outcomes = {
    download: await raw('GET', `${FILES}/${p}`),
    list: await raw('GET', `${FILES}?path=${p}&recursive=true&include_hidden=true`),
    upload: await (async () => {
      const form = multipart({ path: c.path }, { name: 'up.txt', content: 'uploaded' });
      const res = await raw('POST', FILES, { body: form.body, headers: { 'content-type': form.type } });
      if (res.status === 201) {
        // Accepted only as a literal name: the file is inside the workspace, where the answer says.
        const written = JSON.parse(res.body).data;
        expect(readFileSync(join(tree.base, written.path), 'utf8'), what).toBe('uploaded');
      }
      return res;
    })(),
    remove: await raw('DELETE', `${FILES}/${p}?recursive=true`),
  };
  for (const [route, res] of Object.entries(outcomes)) {
    expect(res.status, `${route} ${what}`).not.toBeGreaterThanOrEqual(500);
    expect(res.body, `${route} ${what}`).not.toContain(SECRET);
    if (c.expect === 'reject') expectProblem(res, `${route} ${what}`, REFUSED);
  }
  expectUntouched();
}

describe('the hostile corpus against the files routes', () => {
  it('every case: refused with a 4xx problem (or, for literal names, kept inside), nothing outside read, written or deleted', async () => {
    const corpus = hostileCorpus(tree, neighbours);
    expect(corpus.length).toBeGreaterThanOrEqual(50);
    for (const c of corpus) await probe(c);
    // The fixture survived the deletes that were aimed through links.
    expect(readFileSync(join(tree.base, 'sub', 'file.txt'), 'utf8')).toBe('inside');
  });

  it('a real symlink to /etc is listed but never followed by a download or a listing', async () => {
    const { symlinkSync } = await import('node:fs');
    symlinkSync('/etc', join(tree.base, 'real-etc'));
    expectProblem(await raw('GET', `${FILES}/real-etc/passwd`), 'download /etc/passwd', [422]);
    expectProblem(await raw('GET', `${FILES}/real-etc/hostname`), 'download /etc/hostname', [422]);
    expectProblem(await raw('GET', `${FILES}?path=real-etc`), 'list /etc', [422]);
    const listed = await raw('GET', `${FILES}?recursive=true&limit=100`);
    expect(listed.status).toBe(200);
    const entries: Array<{ path: string; type: string }> = JSON.parse(listed.body).data;
    expect(entries.find((e) => e.path === 'real-etc')?.type).toBe('symlink');
    expect(entries.some((e) => e.path.startsWith('real-etc/'))).toBe(false);
  });
});

describe('URLs as clients send them (the server decodes a path once)', () => {
  const cases: Array<[string, number[], string]> = [
    ['%2e%2e%2f%2e%2e%2fetc%2fpasswd', [422], 'encoded ../ decodes to .. and is refused'],
    ['%2e%2e/%2e%2e/etc/passwd', [422], 'encoded dots'],
    ['..%2f..%2fetc%2fpasswd', [422], 'encoded slashes'],
    ['../../etc/passwd', [422], 'raw .. segments (no client normalization)'],
    ['sub/../../../etc/passwd', [422], 'raw .. after a folder'],
    ['%252e%252e%252fetc%252fpasswd', [404], 'double-encoded: a literal name, which does not exist'],
    ['%252e%252e%252f', [404], 'double-encoded ../ alone'],
    ['..%5c..%5cetc%5cpasswd', [422], 'encoded backslashes'],
    ['..\\..\\etc\\passwd', [422], 'raw backslashes'],
    ['%c0%ae%c0%ae%2fetc%2fpasswd', [400], 'overlong UTF-8: not a valid URL'],
    ['%e0%80%ae%e0%80%ae/etc', [400], 'overlong 3-byte dots'],
    ['%ed%a0%80', [400], 'encoded surrogate'],
    ['%ff%fe', [400], 'invalid UTF-8 bytes'],
    ['%e2%80%a4%e2%80%a4%2fetc%2fpasswd', [404], 'ONE DOT LEADER look-alikes: literal'],
    ['%ef%bc%8e%ef%bc%8e%2fetc%2fpasswd', [404], 'FULLWIDTH FULL STOP look-alikes: literal'],
    ['..%e2%88%95etc%e2%88%95passwd', [404], 'DIVISION SLASH: literal'],
    ['%00', [422], 'NUL'],
    ['sub%2ffile.txt%00.png', [422], 'NUL truncation'],
    ['%2fetc%2fpasswd', [422], 'absolute path'],
    ['%2f%2fetc%2fpasswd', [422], 'double-slash absolute'],
    ['etc-link%2fpasswd', [422], 'symlink to (stand-in) /etc'],
    ['link-out/secret.txt', [422], 'symlinked parent'],
    ['abs-file', [422], 'symlink to a file outside'],
  ];

  it.each(cases)('GET and DELETE files/%s → %j (%s)', async (path, statuses) => {
    expectProblem(await raw('GET', `${FILES}/${path}`), `GET ${path}`, statuses);
    expectProblem(await raw('DELETE', `${FILES}/${path}?recursive=true`), `DELETE ${path}`, statuses);
    // In a query string, escapes that are not valid UTF-8 are left undecoded: a literal name, which does not exist.
    const inQuery = statuses.includes(400) ? [400, 404] : statuses;
    expectProblem(await raw('GET', `${FILES}?path=${path}`), `list ${path}`, inQuery);
    expectUntouched();
  });

  it('a hostile session name in the URL is a 422 or 404, never a path', async () => {
    for (const name of ['%2e%2e', '..%2f..', '%252e%252e', 'target%2f..', 'target%00']) {
      expectProblem(await raw('GET', `/api/v1/sessions/${name}/files`), name, [404, 422]);
      expectProblem(await raw('GET', `/api/v1/sessions/${name}/files/x`), name, [404, 422]);
    }
  });
});

describe('the hostile corpus against POST /sessions/{name}/repo', () => {
  it('is refused with 422 whether relative to APPROVED_DIRECTORY, relative into the workspace, or absolute; working_dir never moves outside', async () => {
    const { symlinkSync } = await import('node:fs');
    symlinkSync('/etc', join(tree.base, 'real-etc-repo'));
    const session = async () => JSON.parse((await raw('GET', `/api/v1/sessions/${SESSION}`)).body).data;
    const start = (await session()).working_dir;
    const tenant = tenantDir.slice(ctx.t.dirs.workspaces.length + 1);
    const corpus = hostileCorpus(tree, neighbours).filter((c) => c.expect === 'reject');
    const candidates = [
      // The tenant folder, the root, and other sessions' workspaces (the working-directory rules).
      tenant,
      tenantDir,
      '.',
      ...neighbours,
      ...neighbours.map((n) => join(n, '..')),
      ...corpus.map((c) => c.path),
      ...corpus.filter((c) => !c.path.startsWith('/')).map((c) => `${tenant}/${SESSION}/${c.path}`),
      ...corpus.filter((c) => !c.path.startsWith('/')).map((c) => `${tree.base}/${c.path}`),
      `${tenant}/${SESSION}/real-etc-repo`,
      `${tree.base}/real-etc-repo`,
      '/etc',
      ctx.t.dirs.root,
    ];
    for (const working_dir of candidates) {
      const res = await raw('POST', `/api/v1/sessions/${SESSION}/repo`, {
        body: JSON.stringify({ working_dir }),
        headers: { 'content-type': 'application/json' },
      });
      expectProblem(res, `repo ${JSON.stringify(working_dir)}`, [422]);
      expect(JSON.parse(res.body).errors[0].pointer).toBe('/working_dir');
    }
    expect((await session()).working_dir).toBe(start);
    // A folder inside that only looks odd is fine, and is reported by its real path.
    const ok = await raw('POST', `/api/v1/sessions/${SESSION}/repo`, {
      body: JSON.stringify({ working_dir: `${tenant}/${SESSION}/in-link/./deeper/` }),
      headers: { 'content-type': 'application/json' },
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).data.working_dir).toBe(join(tree.base, 'sub', 'deeper'));
    expectUntouched();
  });
});

describe("other tenants' sessions", () => {
  it('are 404 on every files route by name and by id, and nothing of theirs is served or changed', async () => {
    const form = multipart({ path: 'planted.txt' }, { name: 'up.txt', content: 'planted' });
    for (const session of ['elsewhere', ...neighbourIds]) {
      const base = `/api/v1/sessions/${encode(session)}/files`;
      for (const res of [
        await raw('GET', `${base}/secret.txt`),
        await raw('GET', base),
        await raw('DELETE', `${base}/secret.txt`),
        await raw('POST', base, { body: form.body, headers: { 'content-type': form.type } }),
      ]) {
        expect(res.status, `${session}: ${res.body.slice(0, 200)}`).toBe(404);
        expect(res.body).not.toContain(SECRET);
      }
    }
    expectUntouched();
  });
});

describe('the hostile corpus against MCP list_files and read_file', () => {
  it('every escape is an error with a 4xx problem; no secret comes back', async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const client = new Client({ name: 'hostile', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${ctx.t.url}/mcp`), {
        requestInit: { headers: { 'x-api-key': KEYS[0] } },
      }),
    );
    try {
      for (const c of hostileCorpus(tree, neighbours).filter((x) => x.expect === 'reject')) {
        for (const tool of ['read_file', 'list_files']) {
          const what = `${tool} ${c.why}: ${JSON.stringify(c.path)}`;
          // A refusal by the tool's input schema is a JSON-RPC error (thrown); a refused path is an error result.
          const result = await client
            .callTool({ name: tool, arguments: { name: SESSION, path: c.path } })
            .catch((err: unknown) => ({ isError: true, content: [{ type: 'text', text: String(err) }] }));
          expect(result.isError, what).toBe(true);
          expect(JSON.stringify(result.content), what).not.toContain(SECRET);
          const problem = (result as { structuredContent?: { problem?: { status: number } } }).structuredContent
            ?.problem;
          if (problem) expect(REFUSED, what).toContain(problem.status);
        }
      }
    } finally {
      await client.close();
    }
    expectUntouched();
  });
});
