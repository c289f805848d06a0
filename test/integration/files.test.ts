// The files API over HTTP: uploads (atomic, limits, aborts, overwrite), listings, downloads (Range, ETag, HEAD), deletes, tenancy, and a file the CLI wrote.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEMP_PREFIX } from '../../src/workspace/temp-names.js';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';
import { eventually } from '../support/wait.js';

let ws: string;
const [ALICE, BOB] = KEYS;
const LIMIT = 64 * 1024;
const FILES = '/api/v1/sessions/box/files';

const ctx = useTestServer({ MAX_UPLOAD_MB: String(LIMIT / 1024 / 1024), MAX_LIST_ENTRIES: '50' });

beforeAll(async () => {
  const res = await ctx.t.request('/api/v1/sessions', { method: 'POST', json: { name: 'box' } });
  expect(res.status).toBe(201);
  ws = (await res.json()).data.workspace;
});

async function problem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return res.json();
}

function form(fields: Array<[string, string] | [string, Blob | string, string]>): FormData {
  const fd = new FormData();
  for (const f of fields) {
    if (f.length === 3) fd.append(f[0], typeof f[1] === 'string' ? new Blob([f[1]]) : f[1], f[2]);
    else fd.append(f[0], f[1]);
  }
  return fd;
}

const upload = (fd: FormData, query = '', key: string = ALICE) =>
  ctx.t.request(`${FILES}${query}`, { method: 'POST', body: fd, key });
const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
/** Every temp file left anywhere in the workspace. */
const temps = () =>
  readdirSync(ws, { recursive: true, encoding: 'utf8' }).filter((p) => p.split('/').pop()!.startsWith(TEMP_PREFIX));

describe('upload', () => {
  it('puts the file at the root under its own name, streamed, with metadata, sha256 and Location', async () => {
    const res = await upload(form([['file', 'hello world', 'hello.txt']]));
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`${FILES}/hello.txt`);
    const { data } = await res.json();
    expect(data).toMatchObject({
      name: 'hello.txt',
      path: 'hello.txt',
      type: 'file',
      size: 11,
      created: true,
      sha256: sha('hello world'),
    });
    expect(new Date(data.modified).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(readFileSync(join(ws, 'hello.txt'), 'utf8')).toBe('hello world');
  });

  it('takes `path` (the file as a field, a folder as the query), creates folders, and a field ending in / is a folder', async () => {
    let res = await upload(
      form([
        ['path', 'docs/guide/intro.md'],
        ['file', '# intro', 'ignored.md'],
      ]),
    );
    expect(res.status).toBe(201);
    expect((await res.json()).data.path).toBe('docs/guide/intro.md');
    res = await upload(
      form([
        ['path', 'docs/'],
        ['file', 'notes', 'notes.txt'],
      ]),
    );
    expect((await res.json()).data.path).toBe('docs/notes.txt');
    // The query's path is the Python seed's: a folder the file goes into under its own name, with or without a /.
    res = await upload(form([['file', '{"a":1}', 'x.json']]), '?path=data');
    expect(res.status).toBe(201);
    expect((await res.json()).data.path).toBe('data/x.json');
    expect(readFileSync(join(ws, 'data', 'x.json'), 'utf8')).toBe('{"a":1}');
    res = await upload(form([['file', 'deep', 'y.txt']]), '?path=data/more/');
    expect((await res.json()).data.path).toBe('data/more/y.txt');
    res = await upload(form([['file', 'top', 'top.txt']]), '?path=');
    expect((await res.json()).data.path).toBe('top.txt');
    // Still inside the workspace only: the folder may not climb out, and nothing is written.
    const out = await problem(await upload(form([['file', 'x', 'escape.txt']]), '?path=../..'), 422);
    expect(out.errors[0]).toMatchObject({ location: 'query', pointer: '/path' });
    expect(existsSync(join(ws, '..', '..', 'escape.txt'))).toBe(false);
    // A file where the folder should be is refused.
    expect((await upload(form([['file', 'x', 'inner.txt']]), '?path=top.txt')).status).toBeGreaterThanOrEqual(400);
    expect(readFileSync(join(ws, 'top.txt'), 'utf8')).toBe('top');
    expect(
      (
        await upload(
          form([
            ['path', 'a.txt'],
            ['file', 'x', 'x'],
          ]),
          '?path=b.txt',
        )
      ).status,
    ).toBe(422);
  });

  it('replaces by default; overwrite=false answers 409 and keeps the old content', async () => {
    await upload(
      form([
        ['path', 'same.txt'],
        ['file', 'v1', 'f'],
      ]),
    );
    const replaced = await upload(
      form([
        ['path', 'same.txt'],
        ['file', 'v2', 'f'],
      ]),
    );
    expect(replaced.status).toBe(201);
    expect((await replaced.json()).data.created).toBe(false);
    const body = await problem(
      await upload(
        form([
          ['path', 'same.txt'],
          ['overwrite', 'false'],
          ['file', 'v3', 'f'],
        ]),
      ),
      409,
    );
    expect(body.type).toBe('/problems/file-exists');
    expect((await upload(form([['file', 'v3', 'same.txt']]), '?overwrite=false')).status).toBe(409);
    expect(readFileSync(join(ws, 'same.txt'), 'utf8')).toBe('v2');
    expect(
      (
        await problem(
          await upload(
            form([
              ['path', 'docs'],
              ['file', 'x', 'f'],
            ]),
          ),
          409,
        )
      ).detail,
    ).toMatch(/folder/);
    expect(temps()).toEqual([]);
  });

  it('over MAX_UPLOAD_MB: 413, and no file, temp file or new folder is left', async () => {
    const big = new Blob([Buffer.alloc(LIMIT + 1, 7)]);
    const body = await problem(
      await upload(
        form([
          ['path', 'big/deep/blob.bin'],
          ['file', big, 'blob.bin'],
        ]),
      ),
      413,
    );
    expect(body).toMatchObject({ type: '/problems/upload-too-large', limit_bytes: LIMIT });
    expect(existsSync(join(ws, 'big'))).toBe(false);
    const exact = await upload(
      form([
        ['path', 'exact.bin'],
        ['file', new Blob([Buffer.alloc(LIMIT, 7)]), 'e'],
      ]),
    );
    expect(exact.status).toBe(201);
    // A replacement over the limit keeps the old file intact.
    await problem(
      await upload(
        form([
          ['path', 'exact.bin'],
          ['file', big, 'e'],
        ]),
      ),
      413,
    );
    expect(readFileSync(join(ws, 'exact.bin')).length).toBe(LIMIT);
    expect(temps()).toEqual([]);
  });

  it('an upload aborted mid-stream leaves nothing behind', async () => {
    const boundary = '----cca-abort-test';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\nhalf/done.bin\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="done.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const req = httpRequest(`${ctx.t.url}${FILES}`, {
      method: 'POST',
      headers: {
        'x-api-key': ALICE,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + LIMIT),
      },
    });
    req.on('error', () => {});
    req.write(head);
    req.write(Buffer.alloc(LIMIT / 2, 1));
    // Wait until the server has started writing the temp file, then cut the connection.
    await eventually(() => temps().length > 0, 10_000, 'the temp file');
    req.destroy();
    await eventually(() => temps().length === 0 && !existsSync(join(ws, 'half', 'done.bin')), 10_000, 'the clean-up');
    expect(existsSync(join(ws, 'half'))).toBe(false);
  });

  it('refuses malformed forms with 422 and writes nothing', async () => {
    const cases: Array<[FormData, string]> = [
      [form([['path', 'x.txt']]), '/file'],
      [
        form([
          ['file', 'a', 'a.txt'],
          ['path', 'late.txt'],
        ]),
        '/path',
      ],
      [
        form([
          ['file', 'a', 'one.txt'],
          ['file2', 'b', 'two.txt'],
        ]),
        '/file2',
      ],
      [
        form([
          ['color', 'red'],
          ['file', 'a', 'c.txt'],
        ]),
        '/color',
      ],
      [
        form([
          ['overwrite', 'maybe'],
          ['file', 'a', 'd.txt'],
        ]),
        '/overwrite',
      ],
      [
        form([
          ['path', 'p.txt'],
          ['path', 'q.txt'],
          ['file', 'a', 'e.txt'],
        ]),
        '/path',
      ],
      [form([['file', 'a', '..']]), '/file'],
    ];
    for (const [fd, pointer] of cases) {
      const body = await problem(await upload(fd), 422);
      expect(body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    }
    for (const name of ['late.txt', 'one.txt', 'two.txt', 'c.txt', 'd.txt', 'e.txt', 'p.txt', 'q.txt', 'a.txt'])
      expect(existsSync(join(ws, name)), name).toBe(false);
    expect(temps()).toEqual([]);
  });

  it('a malformed multipart body is a 400 problem and leaves nothing behind', async () => {
    const b = 'cca-bad-boundary';
    const bodies = [
      `--${b}\r\nContent-Disposition: form-data; name="path"\r\n\r\ntrunc.txt\r\n--${b}\r\nContent-Disposition: form-data; name="file"; filename="t.txt"\r\n\r\nno closing boundary`,
      'not multipart at all',
      `--${b}\r\nContent-Disposition: form-data; name="path"\r\n\r\nunterminated`,
    ];
    for (const body of bodies) {
      const res = await ctx.t.request(FILES, {
        method: 'POST',
        body,
        headers: { 'content-type': `multipart/form-data; boundary=${b}` },
      });
      expect((await problem(res, 400)).type).toBe('/problems/bad-multipart');
    }
    const noBoundary = await ctx.t.request(FILES, {
      method: 'POST',
      body: 'x',
      headers: { 'content-type': 'multipart/form-data' },
    });
    expect((await problem(noBoundary, 400)).type).toBe('/problems/bad-multipart');
    expect(existsSync(join(ws, 'trunc.txt'))).toBe(false);
    expect(temps()).toEqual([]);
  });

  it('wants multipart: JSON or text is 415', async () => {
    expect((await problem(await ctx.t.request(FILES, { method: 'POST', json: { path: 'x' } }), 415)).detail).toMatch(
      /multipart/,
    );
    expect(
      (
        await problem(
          await ctx.t.request(FILES, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } }),
          415,
        )
      ).detail,
    ).toMatch(/multipart/);
  });
});

describe('listing', () => {
  beforeAll(() => {
    mkdirSync(join(ws, 'tree', 'a', 'b'), { recursive: true });
    mkdirSync(join(ws, 'tree', '.cache'), { recursive: true });
    writeFileSync(join(ws, 'tree', 'a', 'b', 'leaf.txt'), 'leaf');
    writeFileSync(join(ws, 'tree', '.cache', 'c'), 'c');
    writeFileSync(join(ws, 'tree', '.dotfile'), 'd');
    writeFileSync(join(ws, 'tree', 'z.txt'), 'zz');
    symlinkSync('/etc', join(ws, 'tree', 'etc-link'));
  });

  const list = async (query: string, key: string = ALICE) => {
    const res = await ctx.t.request(`${FILES}?${query}`, { key });
    expect(res.status).toBe(200);
    return res.json();
  };

  it('lists a folder sorted, hidden names left out, links as symlink, with pagination', async () => {
    const body = await list('path=tree');
    expect(body.data.map((e: { path: string; type: string }) => `${e.path}:${e.type}`)).toEqual([
      'tree/a:directory',
      'tree/etc-link:symlink',
      'tree/z.txt:file',
    ]);
    expect(body.data[2]).toMatchObject({ name: 'z.txt', size: 2 });
    expect(body.meta.pagination).toEqual({ page: 1, limit: 20, total: 3, pages: 1 });
    const page2 = await list('path=tree&limit=2&page=2');
    expect(page2.data.map((e: { name: string }) => e.name)).toEqual(['z.txt']);
    expect(page2.meta.pagination).toEqual({ page: 2, limit: 2, total: 3, pages: 2 });
  });

  it('recursive goes depth first and never into the symlink; include_hidden adds dot entries', async () => {
    const deep = await list('path=tree&recursive=true');
    expect(deep.data.map((e: { path: string }) => e.path)).toEqual([
      'tree/a',
      'tree/a/b',
      'tree/a/b/leaf.txt',
      'tree/etc-link',
      'tree/z.txt',
    ]);
    const all = await list('path=tree&recursive=true&include_hidden=true&limit=100');
    expect(all.data.map((e: { path: string }) => e.path)).toEqual(
      expect.arrayContaining(['tree/.cache', 'tree/.cache/c', 'tree/.dotfile']),
    );
    expect(all.data.some((e: { path: string }) => e.path.startsWith('tree/etc-link/'))).toBe(false);
  });

  it('defaults to the workspace root', async () => {
    const root = await list('limit=100');
    expect(root.data.map((e: { path: string }) => e.path)).toEqual(
      expect.arrayContaining(['hello.txt', 'docs', 'tree']),
    );
    expect(root.data.every((e: { path: string }) => !e.path.includes('/'))).toBe(true);
  });

  it('a file is 400, a missing folder 404, a link out 422, a listing over MAX_LIST_ENTRIES 400', async () => {
    expect((await problem(await ctx.t.request(`${FILES}?path=hello.txt`), 400)).type).toBe('/problems/not-a-directory');
    await problem(await ctx.t.request(`${FILES}?path=nope`), 404);
    const out = await problem(await ctx.t.request(`${FILES}?path=tree/etc-link`), 422);
    expect(out.errors[0]).toMatchObject({ location: 'query', pointer: '/path' });
    mkdirSync(join(ws, 'many'));
    for (let i = 0; i < 60; i++) writeFileSync(join(ws, 'many', `f${i}`), '');
    expect(await problem(await ctx.t.request(`${FILES}?path=many`), 400)).toMatchObject({
      type: '/problems/listing-too-large',
      limit: 50,
    });
    rmSync(join(ws, 'many'), { recursive: true });
  });

  it('validates its query: 422 for bad booleans and pages', async () => {
    await problem(await ctx.t.request(`${FILES}?recursive=perhaps`), 422);
    await problem(await ctx.t.request(`${FILES}?limit=0`), 422);
  });
});

describe('download', () => {
  const content = 'The quick brown fox jumps over the lazy dog';
  beforeAll(() => {
    writeFileSync(join(ws, 'fox.txt'), content);
    writeFileSync(join(ws, 'data.json'), '{"ok":true}');
    writeFileSync(join(ws, 'blob.weird'), Buffer.from([0, 1, 2]));
    writeFileSync(join(ws, 'empty.txt'), '');
    mkdirSync(join(ws, 'folder'), { recursive: true });
    symlinkSync('fox.txt', join(ws, 'fox-link'));
  });
  const get = (path: string, headers: Record<string, string> = {}) => ctx.t.request(`${FILES}/${path}`, { headers });

  it('streams the file with type by extension, length, ETag, Last-Modified, Accept-Ranges and attachment', async () => {
    const res = await get('fox.txt');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(content);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('content-length')).toBe(String(content.length));
    expect(res.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    expect(Date.parse(res.headers.get('last-modified')!)).toBeGreaterThan(Date.parse('2020-01-01'));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('content-disposition')).toContain('attachment; filename="fox.txt"');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await get('data.json')).headers.get('content-type')).toBe('application/json');
    expect((await get('blob.weird')).headers.get('content-type')).toBe('application/octet-stream');
    expect(await (await get('fox-link')).text()).toBe(content);
    expect(await (await get('docs/guide/intro.md')).text()).toBe('# intro');
  });

  it('a large file arrives whole', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
    writeFileSync(join(ws, 'large.bin'), big);
    const res = await get('large.bin');
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(sha(big));
  });

  it('If-None-Match with the ETag is 304; a replaced file gets a new ETag', async () => {
    const etag = (await get('fox.txt')).headers.get('etag')!;
    const cached = await get('fox.txt', { 'if-none-match': etag });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    expect((await get('fox.txt', { 'if-none-match': `W/${etag}` })).status).toBe(304);
    await upload(
      form([
        ['path', 'fox.txt'],
        ['file', content, 'fox.txt'],
      ]),
    );
    const fresh = await get('fox.txt', { 'if-none-match': etag });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('etag')).not.toBe(etag);
  });

  it('serves Range requests with 206 and Content-Range; past the end is 416', async () => {
    const part = await get('fox.txt', { range: 'bytes=4-8' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 4-8/${content.length}`);
    expect(part.headers.get('content-length')).toBe('5');
    expect(await part.text()).toBe('quick');
    expect(await (await get('fox.txt', { range: 'bytes=-3' })).text()).toBe('dog');
    expect(await (await get('fox.txt', { range: 'bytes=40-' })).text()).toBe('dog');
    const bad = await get('fox.txt', { range: 'bytes=100-' });
    expect((await problem(bad, 416)).type).toBe('/problems/range-not-satisfiable');
    expect(bad.headers.get('content-range')).toBe(`bytes */${content.length}`);
    const several = await get('fox.txt', { range: 'bytes=0-1,4-5' });
    expect(several.status).toBe(200);
    expect(await several.text()).toBe(content);
    const etag = (await get('fox.txt')).headers.get('etag')!;
    expect((await get('fox.txt', { range: 'bytes=0-2', 'if-range': etag })).status).toBe(206);
    expect((await get('fox.txt', { range: 'bytes=0-2', 'if-range': '"stale"' })).status).toBe(200);
  });

  it('HEAD gives the headers and no body; an empty file is an empty 200', async () => {
    const head = await ctx.t.request(`${FILES}/fox.txt`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(content.length));
    expect(await head.text()).toBe('');
    const empty = await get('empty.txt');
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe('');
  });

  it('a folder is 400, the root is 400, a missing file 404', async () => {
    expect((await problem(await get('folder'), 400)).type).toBe('/problems/is-a-directory');
    await problem(await get(''), 400);
    await problem(await get('missing.txt'), 404);
  });
});

describe('delete', () => {
  const del = (path: string, query = '') => ctx.t.request(`${FILES}/${path}${query}`, { method: 'DELETE' });

  it('deletes a file (204, then 404), an empty folder, and a link inside without its target', async () => {
    writeFileSync(join(ws, 'gone.txt'), 'x');
    expect((await del('gone.txt')).status).toBe(204);
    expect(existsSync(join(ws, 'gone.txt'))).toBe(false);
    await problem(await del('gone.txt'), 404);
    mkdirSync(join(ws, 'hollow'));
    expect((await del('hollow')).status).toBe(204);
    writeFileSync(join(ws, 'target.txt'), 't');
    symlinkSync('target.txt', join(ws, 'pointer'));
    expect((await del('pointer')).status).toBe(204);
    expect(readFileSync(join(ws, 'target.txt'), 'utf8')).toBe('t');
  });

  it('a non-empty folder needs recursive=true (409 otherwise)', async () => {
    mkdirSync(join(ws, 'full', 'inner'), { recursive: true });
    writeFileSync(join(ws, 'full', 'inner', 'f'), 'f');
    expect((await problem(await del('full'), 409)).type).toBe('/problems/directory-not-empty');
    expect((await del('full', '?recursive=true')).status).toBe(204);
    expect(existsSync(join(ws, 'full'))).toBe(false);
  });

  it('never the workspace root', async () => {
    for (const path of ['', '.', '%2e', '.%2f', encodeURIComponent(ws)]) {
      const body = await problem(await del(path, '?recursive=true'), 422);
      expect(body.type, path).toBe('/problems/invalid-path');
    }
    expect(existsSync(join(ws, 'hello.txt'))).toBe(true);
  });
});

describe('tenancy and docs', () => {
  it("another key's session is 404 on every files route, and nothing changes", async () => {
    const calls: Array<[string, string, FormData?]> = [
      ['GET', FILES],
      ['GET', `${FILES}/hello.txt`],
      ['HEAD', `${FILES}/hello.txt`],
      ['DELETE', `${FILES}/hello.txt`],
      [
        'POST',
        FILES,
        form([
          ['path', 'hello.txt'],
          ['file', 'bob was here', 'h'],
        ]),
      ],
    ];
    for (const [method, path, body] of calls) {
      const res = await ctx.t.request(path, { method, body, key: BOB });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect(readFileSync(join(ws, 'hello.txt'), 'utf8')).toBe('hello world');
    expect((await ctx.t.request(FILES, { key: null })).status).toBe(401);
  });

  it('every files route is in the OpenAPI document under Files, with the multipart body', async () => {
    const doc = await (await ctx.t.request('/openapi.json')).json();
    const list = doc.paths['/api/v1/sessions/{name}/files'];
    const one = doc.paths['/api/v1/sessions/{name}/files/{path}'];
    for (const op of [list.get, list.post, one.get, one.delete]) expect(op.tags).toEqual(['Files']);
    expect(Object.keys(list.post.requestBody.content)).toEqual(['multipart/form-data']);
    expect(list.post.requestBody.content['multipart/form-data'].schema.properties.file).toMatchObject({
      type: 'string',
      format: 'binary',
    });
    expect(Object.keys(one.get.responses)).toEqual(expect.arrayContaining(['200', '206', '304', '400', '404', '416']));
  });
});

describe('with the real CLI', () => {
  it('a file Claude wrote in the workspace can be listed and downloaded', async () => {
    ctx.model.script({
      match: 'write-report-file',
      steps: [
        { tool: { name: 'Write', input: { file_path: '{{cwd}}/out/report.md', content: '# Report\nall good\n' } } },
        { text: 'Wrote the report.' },
      ],
    });
    const box = { name: 'box' };
    const chat = await ctx.api.POST('/api/v1/sessions/{name}/chat', {
      params: { path: box },
      body: { message: 'please write-report-file' },
    });
    expect(chat.response.status).toBe(200);
    const listed = await ctx.api.GET('/api/v1/sessions/{name}/files', {
      params: { path: box, query: { path: 'out' } },
    });
    expect(listed.data?.data).toEqual([expect.objectContaining({ path: 'out/report.md', type: 'file', size: 18 })]);
    // The typed client sends the documented {path} encoded (out%2Freport.md); a plain slash reaches the same file.
    const file = { ...box, path: 'out/report.md' };
    const download = await ctx.api.GET('/api/v1/sessions/{name}/files/{path}', {
      params: { path: file },
      parseAs: 'text',
    });
    expect(download.response.url).toContain('/files/out%2Freport.md');
    expect(download.data).toBe('# Report\nall good\n');
    expect(await (await ctx.t.request(`${FILES}/out/report.md`)).text()).toBe('# Report\nall good\n');
  });
});
