// The files module: listing (hidden, recursive, symlinks), reading, atomic staged writes and their clean-up, deletes and safe recursive removal.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { WorkspaceError } from '../../src/workspace/errors.js';
import { listFiles } from '../../src/workspace/listing.js';
import { openFile, statPath } from '../../src/workspace/reading.js';
import { removePath } from '../../src/workspace/removal.js';
import { TEMP_PREFIX } from '../../src/workspace/temp-names.js';
import { stageFile, writeFile } from '../../src/workspace/uploads.js';
import { createWorkspace, removeWorkspace } from '../../src/workspace/paths.js';
import { openBase } from '../../src/workspace/anchor.js';

/** The workspace at a path, as file operations open it. */
const at = (path: string) => () => openBase(path);

const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'cca-files-')));
let ws: string;
let outside: string;
let n = 0;

beforeEach(() => {
  n++;
  ws = join(scratch, `ws${n}`);
  outside = join(scratch, `out${n}`);
  mkdirSync(join(ws, 'src', 'lib'), { recursive: true });
  mkdirSync(join(ws, '.git', 'objects'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(ws, 'README.md'), '# hi');
  writeFileSync(join(ws, 'src', 'a.ts'), 'export {}');
  writeFileSync(join(ws, 'src', 'lib', 'b.ts'), 'export {}');
  writeFileSync(join(ws, '.env'), 'SECRET=1');
  writeFileSync(join(ws, '.git', 'objects', 'o'), 'obj');
  writeFileSync(join(outside, 'keep.txt'), 'keep');
  mkdirSync(join(outside, 'dir'));
  writeFileSync(join(outside, 'dir', 'keep.txt'), 'keep');
  symlinkSync(outside, join(ws, 'out-link'));
  symlinkSync('src', join(ws, 'src-link'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p);
}

const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.startsWith(TEMP_PREFIX));

describe('listFiles', () => {
  it('lists the root sorted, without hidden names, with types, sizes and times', async () => {
    const entries = await listFiles(at(ws), '', { maxEntries: 100 });
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['README.md', 'file'],
      ['out-link', 'symlink'],
      ['src', 'directory'],
      ['src-link', 'symlink'],
    ]);
    expect(entries[0]).toMatchObject({
      name: 'README.md',
      size: 4,
      modified: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('recursive walks depth first, never into symlinks, and include_hidden adds dot names and what is below them', async () => {
    const deep = await listFiles(at(ws), '', { recursive: true, maxEntries: 100 });
    expect(deep.map((e) => e.path)).toEqual([
      'README.md',
      'out-link',
      'src',
      'src/a.ts',
      'src/lib',
      'src/lib/b.ts',
      'src-link',
    ]);
    const all = await listFiles(at(ws), '', { recursive: true, includeHidden: true, maxEntries: 100 });
    expect(all.map((e) => e.path)).toEqual(expect.arrayContaining(['.env', '.git', '.git/objects', '.git/objects/o']));
    expect(all.some((e) => e.path.startsWith('out-link/'))).toBe(false);
  });

  it('lists a sub-folder (also through a link inside) with workspace-relative paths', async () => {
    expect((await listFiles(at(ws), 'src', { maxEntries: 100 })).map((e) => e.path)).toEqual(['src/a.ts', 'src/lib']);
    expect((await listFiles(at(ws), 'src-link/lib', { maxEntries: 100 })).map((e) => e.path)).toEqual(['src/lib/b.ts']);
  });

  it('refuses a file, a missing folder, a link out, and a listing over its limit', async () => {
    await expect(listFiles(at(ws), 'README.md', { maxEntries: 100 })).rejects.toMatchObject({
      reason: 'not-directory',
    });
    await expect(listFiles(at(ws), 'nope', { maxEntries: 100 })).rejects.toMatchObject({ reason: 'not-found' });
    await expect(listFiles(at(ws), 'out-link', { maxEntries: 100 })).rejects.toMatchObject({ reason: 'outside' });
    await expect(listFiles(at(ws), '', { recursive: true, maxEntries: 3 })).rejects.toMatchObject({
      reason: 'too-many',
      extra: { limit: 3 },
    });
    await expect(listFiles(at(join(scratch, 'gone')), '', { maxEntries: 3 })).rejects.toMatchObject({
      reason: 'not-found',
    });
  });
});

describe('openFile and statPath', () => {
  it('opens a file (also through a link inside) and reports its real path', async () => {
    const f = await openFile(at(ws), 'src-link/a.ts');
    expect(f.entry).toMatchObject({ name: 'a.ts', path: 'src/a.ts', type: 'file', size: 9 });
    expect((await f.handle.readFile()).toString()).toBe('export {}');
    await f.handle.close();
  });

  it('refuses folders, the root, special files and links out', async () => {
    await expect(openFile(at(ws), 'src')).rejects.toMatchObject({ reason: 'is-directory' });
    await expect(openFile(at(ws), '')).rejects.toMatchObject({ reason: 'is-directory' });
    execFileSync('mkfifo', [join(ws, 'pipe')]);
    await expect(openFile(at(ws), 'pipe')).rejects.toMatchObject({ reason: 'not-file' });
    await expect(openFile(at(ws), 'out-link/keep.txt')).rejects.toMatchObject({ reason: 'outside' });
  });

  it('statPath describes files, folders and the root', async () => {
    expect(await statPath(at(ws), 'src-link')).toMatchObject({ path: 'src', type: 'directory' });
    expect(await statPath(at(ws), 'README.md')).toMatchObject({ path: 'README.md', type: 'file', size: 4 });
    expect(await statPath(at(ws), '')).toMatchObject({ path: '', type: 'directory' });
  });
});

describe('stageFile / writeFile', () => {
  it('writes through a temp file, creating folders, and reports size and sha256', async () => {
    const w = await writeFile(at(ws), chunks('hello ', 'world'), { path: 'new/deep/hello.txt', maxBytes: 100 });
    expect(w).toMatchObject({ name: 'hello.txt', path: 'new/deep/hello.txt', type: 'file', size: 11, created: true });
    expect(w.sha256).toBe('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
    expect(readFileSync(join(ws, 'new', 'deep', 'hello.txt'), 'utf8')).toBe('hello world');
    expect(leftovers(join(ws, 'new', 'deep'))).toEqual([]);
  });

  it('uses the given name for a folder path (undefined, empty, `.` or ending in /)', async () => {
    expect((await writeFile(at(ws), chunks('1'), { name: 'a.txt', maxBytes: 10 })).path).toBe('a.txt');
    expect((await writeFile(at(ws), chunks('2'), { path: '', name: 'b.txt', maxBytes: 10 })).path).toBe('b.txt');
    expect((await writeFile(at(ws), chunks('3'), { path: '.', name: 'c.txt', maxBytes: 10 })).path).toBe('c.txt');
    expect((await writeFile(at(ws), chunks('4'), { path: 'docs/', name: 'd.txt', maxBytes: 10 })).path).toBe(
      'docs/d.txt',
    );
    await expect(writeFile(at(ws), chunks('5'), { path: 'docs/', maxBytes: 10 })).rejects.toMatchObject({
      reason: 'invalid',
    });
    await expect(writeFile(at(ws), chunks('6'), { name: '..', maxBytes: 10 })).rejects.toMatchObject({
      reason: 'invalid',
      extra: { field: 'name' },
    });
  });

  it('replaces by default (created: false), refuses with overwrite=false, and never writes over a folder', async () => {
    const first = await writeFile(at(ws), chunks('old'), { path: 'f.txt', maxBytes: 10 });
    expect(first.created).toBe(true);
    const second = await writeFile(at(ws), chunks('new'), { path: 'f.txt', maxBytes: 10 });
    expect(second.created).toBe(false);
    await expect(
      writeFile(at(ws), chunks('x'), { path: 'f.txt', overwrite: false, maxBytes: 10 }),
    ).rejects.toMatchObject({
      reason: 'exists',
    });
    await expect(writeFile(at(ws), chunks('x'), { path: 'src', maxBytes: 10 })).rejects.toMatchObject({
      reason: 'exists',
    });
    expect(readFileSync(join(ws, 'f.txt'), 'utf8')).toBe('new');
    expect(leftovers(ws)).toEqual([]);
  });

  it('writes through a link to a file inside, and refuses a link out or to nothing', async () => {
    symlinkSync('src/a.ts', join(ws, 'a-link'));
    const w = await writeFile(at(ws), chunks('changed'), { path: 'a-link', maxBytes: 10 });
    expect(w.path).toBe('src/a.ts');
    expect(readFileSync(join(ws, 'src', 'a.ts'), 'utf8')).toBe('changed');
    symlinkSync(join(outside, 'keep.txt'), join(ws, 'keep-link'));
    await expect(writeFile(at(ws), chunks('x'), { path: 'keep-link', maxBytes: 10 })).rejects.toMatchObject({
      reason: 'outside',
    });
    symlinkSync(join(outside, 'new.txt'), join(ws, 'new-link'));
    await expect(writeFile(at(ws), chunks('x'), { path: 'new-link', maxBytes: 10 })).rejects.toMatchObject({
      reason: 'invalid',
    });
    await expect(writeFile(at(ws), chunks('x'), { path: 'out-link/dir/keep.txt', maxBytes: 10 })).rejects.toMatchObject(
      {
        reason: 'outside',
      },
    );
    expect(readFileSync(join(outside, 'keep.txt'), 'utf8')).toBe('keep');
    expect(existsSync(join(outside, 'new.txt'))).toBe(false);
  });

  it('over the limit (counted, or cut by the source): too-large, no temp file, no folders it made', async () => {
    await expect(
      writeFile(at(ws), chunks('12345', '678'), { path: 'big/one/x.bin', maxBytes: 7 }),
    ).rejects.toMatchObject({
      reason: 'too-large',
      extra: { limit_bytes: 7 },
    });
    expect(existsSync(join(ws, 'big'))).toBe(false);
    const cut = stageFile(at(ws), chunks('1234567'), { path: 'src/cut.bin', maxBytes: 7, truncated: () => true });
    await expect(cut).rejects.toMatchObject({ reason: 'too-large' });
    expect(leftovers(join(ws, 'src'))).toEqual([]);
    expect(existsSync(join(ws, 'src', 'cut.bin'))).toBe(false);
    // Exactly at the limit is fine.
    expect((await writeFile(at(ws), chunks('1234567'), { path: 'seven.bin', maxBytes: 7 })).size).toBe(7);
  });

  it('a source that fails mid-way leaves nothing behind', async () => {
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.from('partial');
      throw new Error('connection reset');
    }
    await expect(writeFile(at(ws), broken(), { path: 'up/loaded/x.txt', maxBytes: 100 })).rejects.toThrow(
      'connection reset',
    );
    expect(existsSync(join(ws, 'up'))).toBe(false);
    expect(leftovers(ws)).toEqual([]);
  });

  it('a staged file is invisible until commit, and discard removes it', async () => {
    const staged = await stageFile(at(ws), chunks('draft'), { path: 'later/draft.txt', maxBytes: 100 });
    expect(existsSync(join(ws, 'later', 'draft.txt'))).toBe(false);
    expect(leftovers(join(ws, 'later'))).toHaveLength(1);
    await staged.discard();
    expect(existsSync(join(ws, 'later'))).toBe(false);
    const again = await stageFile(at(ws), chunks('final'), { path: 'later/draft.txt', maxBytes: 100 });
    await again.commit();
    expect(readFileSync(join(ws, 'later', 'draft.txt'), 'utf8')).toBe('final');
    await expect(again.commit()).rejects.toThrow(/already/);
  });

  it('overwrite=false loses cleanly to a file created after staging', async () => {
    const staged = await stageFile(at(ws), chunks('mine'), { path: 'race.txt', overwrite: false, maxBytes: 100 });
    writeFileSync(join(ws, 'race.txt'), 'theirs');
    await expect(staged.commit()).rejects.toMatchObject({ reason: 'exists' });
    expect(readFileSync(join(ws, 'race.txt'), 'utf8')).toBe('theirs');
    expect(leftovers(ws)).toEqual([]);
  });
});

describe('removePath', () => {
  it('removes files, links inside (not their targets) and empty folders', async () => {
    expect(await removePath(at(ws), 'README.md')).toMatchObject({ path: 'README.md', type: 'file' });
    expect(await removePath(at(ws), 'src-link')).toMatchObject({ type: 'symlink' });
    expect(existsSync(join(ws, 'src', 'a.ts'))).toBe(true);
    mkdirSync(join(ws, 'empty'));
    await removePath(at(ws), 'empty');
    expect(existsSync(join(ws, 'empty'))).toBe(false);
  });

  it('refuses a non-empty folder without recursive, the root, a missing path, and a link out', async () => {
    await expect(removePath(at(ws), 'src')).rejects.toMatchObject({ reason: 'not-empty' });
    await expect(removePath(at(ws), '')).rejects.toMatchObject({ reason: 'root' });
    await expect(removePath(at(ws), '.', { recursive: true })).rejects.toMatchObject({ reason: 'root' });
    await expect(removePath(at(ws), 'nope')).rejects.toMatchObject({ reason: 'not-found' });
    await expect(removePath(at(ws), 'out-link')).rejects.toMatchObject({ reason: 'outside' });
    await expect(removePath(at(ws), 'out-link/keep.txt')).rejects.toMatchObject({ reason: 'outside' });
    expect(existsSync(join(ws, 'out-link'))).toBe(true);
  });

  it('recursive removes a tree, unlinking the links in it without following them', async () => {
    symlinkSync(outside, join(ws, 'src', 'lib', 'escape'));
    symlinkSync(join(outside, 'keep.txt'), join(ws, 'src', 'file-escape'));
    await removePath(at(ws), 'src', { recursive: true });
    expect(existsSync(join(ws, 'src'))).toBe(false);
    expect(readFileSync(join(outside, 'keep.txt'), 'utf8')).toBe('keep');
    expect(readFileSync(join(outside, 'dir', 'keep.txt'), 'utf8')).toBe('keep');
  });
});

describe('workspaces (paths.ts on the resolver)', () => {
  it('createWorkspace refuses a symlinked tenant folder, even one pointing inside', async () => {
    const root = join(scratch, `root${n}`);
    mkdirSync(join(root, 'k_1111111111111111', 'real'), { recursive: true });
    symlinkSync(join(root, 'k_1111111111111111'), join(root, 'k_2222222222222222'));
    await expect(createWorkspace(root, 'k_2222222222222222', 's')).rejects.toBeInstanceOf(WorkspaceError);
    expect(existsSync(join(root, 'k_1111111111111111', 's'))).toBe(false);
    await expect(createWorkspace(root, 'k_1111111111111111', '..')).rejects.toBeInstanceOf(WorkspaceError);
  });

  it('removeWorkspace removes a tree whose links point outside without touching their targets', async () => {
    const root = join(scratch, `root${n}`);
    const made = await createWorkspace(root, 'local', 'doomed');
    const dir = made.path;
    symlinkSync(outside, join(dir, 'escape'));
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    symlinkSync(outside, join(dir, 'a', 'b', 'escape'));
    await removeWorkspace(root, made);
    expect(existsSync(dir)).toBe(false);
    expect(readFileSync(join(outside, 'dir', 'keep.txt'), 'utf8')).toBe('keep');
  });
});
