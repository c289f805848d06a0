// Unit tests of the workspace path rules: creation with its anchor, the working-directory rules (tenants, the root, other sessions' workspaces), removal by anchor, isWithin.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createWorkspace,
  isWithin,
  removeWorkspace,
  resolveWorkingDir,
  WorkspaceError,
} from '../../src/workspace/paths.js';

const ME = 'k_0123456789abcdef';
const OTHER = 'k_fedcba9876543210';

let scratch: string;
let root: string;
let outside: string;

beforeAll(() => {
  scratch = realpathSync(mkdtempSync(join(tmpdir(), 'cca-paths-')));
  root = join(scratch, 'root');
  outside = join(scratch, 'outside');
  mkdirSync(join(root, ME, 'mine'), { recursive: true });
  mkdirSync(join(root, OTHER, 'theirs'), { recursive: true });
  mkdirSync(join(root, 'shared', 'repo'), { recursive: true });
  mkdirSync(join(root, '..foo'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(root, ME, 'file.txt'), 'x');
  symlinkSync(outside, join(root, ME, 'escape'));
  symlinkSync(join(root, ME, 'mine'), join(root, 'shared', 'to-mine'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The sessions' workspaces the working-directory rule knows of (the store's query, on a list). */
let workspaces: string[] = [];
const holders = async (paths: string[], below: string) =>
  workspaces.filter((w) => paths.includes(w) || w.startsWith(`${below}/`));

const resolved = async (candidate: string, tenant = ME) =>
  (await resolveWorkingDir(root, tenant, candidate, holders)).path;
const rejects = (candidate: string, tenant = ME, reason?: string) =>
  expect(resolveWorkingDir(root, tenant, candidate, holders)).rejects.toMatchObject(
    reason ? { name: 'WorkspaceError', reason } : { name: 'WorkspaceError' },
  );

describe('createWorkspace', () => {
  it('creates <root>/<tenant>/<name> and returns its real path and its (device, inode)', async () => {
    const { path, anchor } = await createWorkspace(root, ME, 'fresh');
    expect(path).toBe(join(root, ME, 'fresh'));
    const st = statSync(path, { bigint: true });
    expect(anchor).toEqual({ dev: String(st.dev), ino: String(st.ino) });
  });

  it('returns the real path when the root is reached through a symlink', async () => {
    const link = join(scratch, 'root-link');
    symlinkSync(root, link);
    expect((await createWorkspace(link, ME, 'via-link')).path).toBe(join(root, ME, 'via-link'));
  });

  it('refuses a name that is a symlink pointing outside the root', async () => {
    await expect(createWorkspace(root, ME, 'escape')).rejects.toBeInstanceOf(WorkspaceError);
  });

  it('is fine when the folder already exists', async () => {
    expect((await createWorkspace(root, ME, 'mine')).path).toBe(join(root, ME, 'mine'));
  });
});

describe('resolveWorkingDir', () => {
  beforeAll(() => {
    workspaces = [join(root, ME, 'mine'), join(root, OTHER, 'theirs')];
    mkdirSync(join(root, ME, 'mine', 'sub'), { recursive: true });
    mkdirSync(join(root, ME, 'proj', 'src'), { recursive: true });
    symlinkSync(join(root, ME, 'proj'), join(root, 'shared', 'to-proj'));
  });

  it('accepts an absolute folder inside the root, and answers its (device, inode)', async () => {
    const { path, anchor } = await resolveWorkingDir(root, ME, join(root, 'shared', 'repo'), holders);
    expect(path).toBe(join(root, 'shared', 'repo'));
    expect(anchor.ino).toBe(String(statSync(path, { bigint: true }).ino));
  });

  it('accepts a folder relative to the root', async () => {
    expect(await resolved('shared/repo')).toBe(join(root, 'shared', 'repo'));
  });

  it("accepts a folder in the caller's tenant folder that is no session's workspace", async () => {
    expect(await resolved(`${ME}/proj`)).toBe(join(root, ME, 'proj'));
    expect(await resolved(`${ME}/proj/src`)).toBe(join(root, ME, 'proj', 'src'));
  });

  it("returns the real path of a symlink that stays inside the caller's area", async () => {
    expect(await resolved('shared/to-proj')).toBe(join(root, ME, 'proj'));
  });

  it('accepts a folder named ..foo inside the root', async () => {
    expect(await resolved('..foo')).toBe(join(root, '..foo'));
  });

  it('rejects a folder outside the root', () => rejects(outside));
  it('rejects a relative escape with ..', () => rejects('../outside'));
  it('rejects an escape hidden in the middle of a path', () => rejects(`${ME}/mine/../../../outside`));
  it('rejects a symlink inside the root that points outside', () => rejects(`${ME}/escape`));
  it('rejects a file', () => rejects(`${ME}/file.txt`));
  it('rejects a missing folder', () => rejects(`${ME}/nope`));
  it('rejects a NUL byte', () => rejects(`${ME}/mine\0`));
  it("rejects another tenant's folder", () => rejects(`${OTHER}/theirs`, ME, 'outside'));
  it("rejects another tenant's folder given absolutely", () => rejects(join(root, OTHER), ME, 'outside'));
  it("rejects another tenant's folder reached through a symlink", async () => {
    symlinkSync(join(root, OTHER, 'theirs'), join(root, 'shared', 'to-theirs'));
    await rejects('shared/to-theirs');
  });
  it('rejects the open-mode tenant folder for a keyed tenant', async () => {
    mkdirSync(join(root, 'local'), { recursive: true });
    await rejects('local');
  });
  it("rejects the root itself (it holds every tenant's folders), for open mode too", async () => {
    await rejects(root, ME, 'taken');
    await rejects('.', 'local', 'taken');
  });
  it("rejects the caller's own tenant folder (it holds the tenant's workspaces)", () => rejects(ME, ME, 'taken'));
  it("rejects another session's workspace and any folder inside it", async () => {
    await rejects(`${ME}/mine`, ME, 'taken');
    await rejects(`${ME}/mine/sub`, ME, 'taken');
    await rejects('shared/to-mine', ME, 'taken');
  });
  it("rejects a folder that holds another session's workspace", async () => {
    workspaces.push(join(root, 'shared', 'repo', 'nested-ws'));
    try {
      await rejects('shared/repo', ME, 'taken');
    } finally {
      workspaces.pop();
    }
  });
});

describe('removeWorkspace', () => {
  it('removes a folder inside the root', async () => {
    const made = await createWorkspace(root, ME, 'doomed');
    writeFileSync(join(made.path, 'a.txt'), 'a');
    await removeWorkspace(root, made);
    expect(existsSync(made.path)).toBe(false);
  });

  it('never removes the root', async () => {
    await removeWorkspace(root, { path: root, anchor: null });
    await removeWorkspace(root, { path: join(root, ME, '..', '..', 'root'), anchor: null });
    expect(existsSync(join(root, ME, 'mine'))).toBe(true);
  });

  it('never removes anything outside the root, directly or through a symlink', async () => {
    writeFileSync(join(outside, 'keep.txt'), 'k');
    await removeWorkspace(root, { path: outside, anchor: null });
    await removeWorkspace(root, { path: join(root, ME, 'escape'), anchor: null });
    await removeWorkspace(root, { path: join(root, '..', 'outside'), anchor: null });
    expect(existsSync(join(outside, 'keep.txt'))).toBe(true);
  });

  it('leaves a folder that is no longer the one made (swapped for another folder)', async () => {
    const made = await createWorkspace(root, ME, 'swapped');
    renameSync(made.path, join(root, ME, 'swapped-away'));
    mkdirSync(made.path);
    writeFileSync(join(made.path, 'other.txt'), 'someone else');
    await removeWorkspace(root, made);
    expect(existsSync(join(made.path, 'other.txt'))).toBe(true);
    expect(existsSync(join(root, ME, 'swapped-away'))).toBe(true);
  });

  it('is quiet about a folder that does not exist', async () => {
    await expect(removeWorkspace(root, { path: join(root, ME, 'never-was'), anchor: null })).resolves.toBeUndefined();
  });
});

describe('isWithin', () => {
  it('holds the root itself and what is below it', () => {
    expect(isWithin('/a/b', '/a/b')).toBe(true);
    expect(isWithin('/a/b', '/a/b/c')).toBe(true);
    expect(isWithin('/a/b', '/a/b/c/d')).toBe(true);
  });

  it('a name starting with .. below the root is inside', () => {
    expect(isWithin('/a/b', '/a/b/..foo')).toBe(true);
    expect(isWithin('/a/b', '/a/b/...')).toBe(true);
  });

  it('excludes the parent, siblings and sibling prefixes', () => {
    expect(isWithin('/a/b', '/a')).toBe(false);
    expect(isWithin('/a/b', '/a/bc')).toBe(false);
    expect(isWithin('/a/b', '/a/c')).toBe(false);
    expect(isWithin('/a/b', `/a/b${sep}..${sep}c`)).toBe(false);
    expect(isWithin('/a/b', '/')).toBe(false);
  });

  it('a trailing separator on the root changes nothing', () => {
    expect(isWithin('/a/b/', '/a/b/c')).toBe(true);
    expect(isWithin('/a/b/', '/a/bc')).toBe(false);
  });
});
