// The safe resolver: the hostile corpus against resolveInside and every file operation (listing, reading, uploads, removal), property tests (fast-check), and swapped-in links.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANCHORED, isWithin } from '../../src/workspace/anchor.js';
import { WorkspaceError } from '../../src/workspace/errors.js';
import { listFiles } from '../../src/workspace/listing.js';
import { openFile, statPath } from '../../src/workspace/reading.js';
import { removePath } from '../../src/workspace/removal.js';
import { stageFile, writeFile } from '../../src/workspace/uploads.js';
import { checkText, parseClientPath, splitRelative } from '../../src/workspace/path-text.js';
import { resolveInside } from '../../src/workspace/resolve.js';
import { buildHostileTree, hostileCorpus, SECRET, snapshot, type HostileTree } from './hostile-corpus.js';
import { openBase } from '../../src/workspace/anchor.js';

/** The workspace at a path, as file operations open it. */
const at = (path: string) => () => openBase(path);

let scratch: string;
let tree: HostileTree;
let outsideBefore: Record<string, string>;
let etcBefore: Record<string, string>;

beforeAll(() => {
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'cca-resolve-')));
  tree = buildHostileTree(scratch);
  outsideBefore = snapshot(tree.outside);
  etcBefore = snapshot(tree.fakeEtc);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function* bytesOf(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text);
}

/** Runs `op`; it must either succeed with `check` or fail with a WorkspaceError (never another error). */
async function refusedOrInside<T>(
  op: () => Promise<T>,
  check: (value: T) => void | Promise<void>,
): Promise<'refused' | 'accepted'> {
  try {
    await check(await op());
    return 'accepted';
  } catch (err) {
    if (!(err instanceof WorkspaceError)) throw err;
    return 'refused';
  }
}

function expectOutsideUntouched() {
  expect(snapshot(tree.outside)).toEqual(outsideBefore);
  expect(snapshot(tree.fakeEtc)).toEqual(etcBefore);
}

describe('the hostile corpus', () => {
  const corpus = () => hostileCorpus(tree);

  it('holds at least 50 paths', () => {
    expect(corpus().length).toBeGreaterThanOrEqual(50);
  });

  it('resolveInside refuses every escape and resolves anything it accepts inside the base', async () => {
    for (const c of corpus()) {
      const outcome = await refusedOrInside(
        () => resolveInside(tree.base, c.path),
        (r) => {
          expect(isWithin(tree.base, r.path), c.why).toBe(true);
          expect(realpathSync(r.path)).toBe(r.path);
        },
      );
      if (c.expect === 'reject') expect(outcome, `${c.why}: ${JSON.stringify(c.path)}`).toBe('refused');
    }
  });

  it('the files operations refuse it too, and nothing outside is read, written or deleted', async () => {
    for (const c of corpus()) {
      const label = `${c.why}: ${JSON.stringify(c.path)}`;
      const list = await refusedOrInside(
        () => listFiles(at(tree.base), c.path, { recursive: true, includeHidden: true, maxEntries: 1000 }),
        (entries) =>
          expect(
            entries.every((e) => !e.path.split('/').includes('..') && !e.path.startsWith('/')),
            label,
          ).toBe(true),
      );
      const read = await refusedOrInside(
        () => openFile(at(tree.base), c.path),
        async (f) => {
          const text = (await f.handle.readFile()).toString();
          await f.handle.close();
          expect(text, label).not.toContain(SECRET);
        },
      );
      const stat = await refusedOrInside(
        () => statPath(at(tree.base), c.path),
        (e) => expect(e.path.startsWith('..'), label).toBe(false),
      );
      const write = await refusedOrInside(
        () => writeFile(at(tree.base), bytesOf('pwned'), { path: c.path, name: 'upload.txt', maxBytes: 100 }),
        (w) => {
          expect(existsSync(join(tree.base, w.path)), label).toBe(true);
          rmSync(join(tree.base, w.path));
        },
      );
      const remove = await refusedOrInside(
        () => removePath(at(tree.base), c.path, { recursive: true }),
        () => {},
      );
      if (c.expect === 'reject') {
        expect([list, read, stat, write, remove], label).toEqual([
          'refused',
          'refused',
          'refused',
          'refused',
          'refused',
        ]);
      }
      expectOutsideUntouched();
    }
    // Every fixture inside is still there too (the deletes above were refused or hit nothing).
    expect(readFileSync(join(tree.base, 'sub', 'file.txt'), 'utf8')).toBe('inside');
  });
});

describe('resolveInside', () => {
  it('accepts plain relative paths, ./ and doubled slashes, and returns real paths', async () => {
    expect((await resolveInside(tree.base, 'sub/file.txt')).path).toBe(join(tree.base, 'sub', 'file.txt'));
    expect((await resolveInside(tree.base, './sub//deeper/')).path).toBe(join(tree.base, 'sub', 'deeper'));
    expect(await resolveInside(tree.base, '')).toMatchObject({ path: tree.base, relative: '', isDirectory: true });
  });

  it('follows symlinks that stay inside, to their real path', async () => {
    expect(await resolveInside(tree.base, 'in-link/file.txt')).toMatchObject({
      path: join(tree.base, 'sub', 'file.txt'),
      relative: 'sub/file.txt',
      isDirectory: false,
    });
    expect((await resolveInside(tree.base, 'self/self/in-link/deeper')).relative).toBe('sub/deeper');
  });

  it('accepts an absolute path under the base or an alias of it, and nothing else', async () => {
    expect((await resolveInside(tree.base, join(tree.base, 'sub'))).relative).toBe('sub');
    const alias = join(scratch, 'alias');
    symlinkSync(tree.base, alias);
    expect((await resolveInside(alias, `${alias}/sub`)).relative).toBe('sub');
    expect((await resolveInside(alias, `${tree.base}/sub`)).relative).toBe('sub');
    await expect(resolveInside(tree.base, join(scratch, 'alias', 'sub'))).rejects.toMatchObject({ reason: 'outside' });
  });

  it('names why it refuses', async () => {
    await expect(resolveInside(tree.base, 'nope')).rejects.toMatchObject({ reason: 'not-found' });
    await expect(resolveInside(tree.base, 'sub/file.txt/x')).rejects.toMatchObject({ reason: 'not-directory' });
    await expect(resolveInside(tree.base, 'sub/file.txt', { expect: 'directory' })).rejects.toMatchObject({
      reason: 'not-directory',
    });
    await expect(resolveInside(tree.base, 'link-out')).rejects.toMatchObject({ reason: 'outside' });
    await expect(resolveInside(tree.base, '../x')).rejects.toMatchObject({
      reason: 'invalid',
      message: "path must not contain '..' segments",
    });
    await expect(resolveInside(tree.base, 'x', { label: 'working_dir' })).rejects.toThrow(/^working_dir/);
    await expect(resolveInside(join(scratch, 'no-such-base'), 'x')).rejects.toMatchObject({ reason: 'not-found' });
  });
});

describe('the text rules', () => {
  it('split relative paths into plain names', () => {
    expect(splitRelative('a//b/./c/', 'path')).toEqual({ segments: ['a', 'b', 'c'], trailingSlash: true });
    expect(splitRelative('', 'path')).toEqual({ segments: [], trailingSlash: false });
    expect(splitRelative('./', 'path')).toEqual({ segments: [], trailingSlash: false });
    expect(splitRelative('..foo/...', 'path').segments).toEqual(['..foo', '...']);
  });

  it('take absolute paths only under the base, whole names only', () => {
    expect(parseClientPath('/b/ws/x', 'path', '/b/ws').segments).toEqual(['x']);
    expect(parseClientPath('/b/ws', 'path', '/b/ws').segments).toEqual([]);
    expect(() => parseClientPath('/b/ws2/x', 'path', '/b/ws')).toThrow(WorkspaceError);
    expect(() => parseClientPath('/b', 'path', '/b/ws')).toThrow(WorkspaceError);
  });

  it('accept any valid Unicode name up to 255 bytes', () => {
    expect(() => checkText('日本語/ファイル.txt', 'path')).not.toThrow();
    expect(() => checkText('😀'.repeat(63), 'path')).not.toThrow();
    expect(() => splitRelative('é'.repeat(127), 'path')).not.toThrow();
    expect(() => splitRelative('é'.repeat(128), 'path')).toThrow(/255 bytes/);
  });
});

describe('property: no accepted path resolves outside', () => {
  const pieces = [
    '..',
    '.',
    '',
    'sub',
    'deeper',
    'file.txt',
    'link-out',
    'etc-link',
    'in-link',
    'self',
    'up',
    'abs-file',
    'dangling',
    'loop1',
    '%2e%2e',
    '%2e',
    '\\',
    '\0',
    '\u2024\u2024',
    '\uFF0E\uFF0E',
    '\u2215',
    'x',
  ];
  const joinedPath = fc
    .tuple(fc.boolean(), fc.array(fc.constantFrom(...pieces), { minLength: 0, maxLength: 8 }))
    .map(([abs, parts]) => (abs ? `${tree.base}/` : '') + parts.join('/'));
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    joinedPath,
  );

  it('resolveInside: refused, or a real path inside the base', async () => {
    await fc.assert(
      fc.asyncProperty(anyText, async (path) => {
        await refusedOrInside(
          () => resolveInside(tree.base, path),
          (r) => {
            expect(isWithin(tree.base, r.path)).toBe(true);
            expect(realpathSync(r.path)).toBe(r.path);
          },
        );
      }),
      { numRuns: 600 },
    );
  });

  it('openFile never reads outside; writeFile never writes outside', async () => {
    await fc.assert(
      fc.asyncProperty(joinedPath, fc.boolean(), async (path, trailing) => {
        const target = trailing ? `${path}/` : path;
        await refusedOrInside(
          () => openFile(at(tree.base), target),
          async (f) => {
            const text = (await f.handle.readFile()).toString();
            await f.handle.close();
            expect(text).not.toContain(SECRET);
          },
        );
        await refusedOrInside(
          () => writeFile(at(tree.base), bytesOf('prop'), { path: target, name: 'p.txt', maxBytes: 10 }),
          (w) => {
            const real = realpathSync(join(tree.base, w.path));
            expect(isWithin(tree.base, real)).toBe(true);
            if (w.created) rmSync(real);
          },
        );
        expectOutsideUntouched();
      }),
      { numRuns: 300 },
    );
  });

  it('removePath never deletes outside (on a fresh tree each run)', async () => {
    await fc.assert(
      fc.asyncProperty(joinedPath, fc.boolean(), async (path, recursive) => {
        const t = buildHostileTree(scratch, 'prop-rm');
        const before = [snapshot(t.outside), snapshot(t.fakeEtc)];
        const relocated = path.startsWith(`${tree.base}/`) ? `${t.base}/${path.slice(tree.base.length + 1)}` : path;
        await refusedOrInside(
          () => removePath(at(t.base), relocated, { recursive }),
          () => {},
        );
        expect([snapshot(t.outside), snapshot(t.fakeEtc)]).toEqual(before);
        expect(existsSync(t.base)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

// Linux: operations go through /proc/self/fd/<dir fd>/<name> (like openat). Elsewhere the fallback only narrows the race.
describe.runIf(ANCHORED)('a link swapped in between check and use', () => {
  it('a folder replaced by a symlink to outside while an upload streams: the file lands in the real folder, not outside', async () => {
    const t = buildHostileTree(scratch, 'swap-upload');
    const before = snapshot(t.outside);
    async function* swapping(): AsyncGenerator<Buffer> {
      yield Buffer.from('first half, ');
      // The target folder is checked and open: move it away and put a link to outside where it was.
      renameSync(join(t.base, 'sub'), join(t.base, 'sub-moved'));
      symlinkSync(t.outside, join(t.base, 'sub'));
      yield Buffer.from('second half');
    }
    const staged = await stageFile(at(t.base), swapping(), { path: 'sub/secret.txt', maxBytes: 1000 });
    await staged.commit();
    expect(snapshot(t.outside)).toEqual(before);
    expect(readFileSync(join(t.base, 'sub-moved', 'secret.txt'), 'utf8')).toBe('first half, second half');
  });

  it('a parent swapped for a symlink after the walk: listing and reading stay on the opened folder', async () => {
    const t = buildHostileTree(scratch, 'swap-read');
    // An open file is read through its descriptor whatever happens to its path afterwards.
    const f = await openFile(at(t.base), 'sub/file.txt');
    renameSync(join(t.base, 'sub'), join(t.base, 'sub-moved'));
    symlinkSync(t.outside, join(t.base, 'sub'));
    expect((await f.handle.readFile()).toString()).toBe('inside');
    await f.handle.close();
    // A fresh request now sees the link and refuses it.
    await expect(openFile(at(t.base), 'sub/secret.txt')).rejects.toMatchObject({ reason: 'outside' });
    await expect(listFiles(at(t.base), 'sub', { maxEntries: 100 })).rejects.toMatchObject({ reason: 'outside' });
  });

  it('a folder flipping between real and a link to outside (another process) never lets a read, write or delete reach outside', async () => {
    const t = buildHostileTree(scratch, 'race');
    const flip = join(t.base, 'flip');
    mkdirSync(join(flip, 'tree'), { recursive: true });
    writeFileSync(join(flip, 'secret.txt'), 'inside copy');
    writeFileSync(join(flip, 'tree', 'leaf.txt'), 'leaf');
    mkdirSync(join(t.outside, 'tree'));
    writeFileSync(join(t.outside, 'tree', 'leaf.txt'), SECRET);
    const before = snapshot(t.outside);
    // The attacker, in another process: parks the real folder, puts a link to outside in its place, and back, as fast as it can.
    const script = `
      const fs = require('node:fs');
      const [flip, out, ms] = process.argv.slice(1);
      const end = Date.now() + Number(ms);
      while (Date.now() < end) {
        try { fs.renameSync(flip, flip + '-parked'); } catch {}
        try { fs.symlinkSync(out, flip); } catch {}
        try { fs.unlinkSync(flip); } catch {}
        try { fs.renameSync(flip + '-parked', flip); } catch {}
      }`;
    const attacker = spawn(process.execPath, ['-e', script, flip, t.outside, '2000'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => attacker.on('exit', resolve));
    const outcomes = { read: 0, wrote: 0, removed: 0, refused: 0 };
    const deadline = Date.now() + 1800;
    let i = 0;
    const attempt = async (what: keyof typeof outcomes, op: () => Promise<unknown>) => {
      try {
        await op();
        outcomes[what]++;
      } catch (err) {
        if (!(err instanceof WorkspaceError)) throw err;
        outcomes.refused++;
      }
    };
    try {
      while (Date.now() < deadline) {
        i++;
        await attempt('read', async () => {
          const f = await openFile(at(t.base), 'flip/secret.txt');
          const text = (await f.handle.readFile()).toString();
          await f.handle.close();
          expect(text).toBe('inside copy');
        });
        await attempt('wrote', () => writeFile(at(t.base), bytesOf('x'), { path: `flip/new-${i}.txt`, maxBytes: 10 }));
        await attempt('removed', () => removePath(at(t.base), 'flip/tree', { recursive: true }));
        await attempt('read', () => listFiles(at(t.base), 'flip', { recursive: true, maxEntries: 10_000 }));
      }
    } finally {
      // Stop the attacker before anything else runs, even when an assertion above failed.
      attacker.kill();
      await exited;
    }
    expect(snapshot(t.outside)).toEqual(before);
    // The race was really run: some attempts met the real folder and some did not.
    expect(outcomes.read + outcomes.wrote).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
