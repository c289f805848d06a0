// Folders opened as file descriptors and walked one name at a time, so a symlink swapped in mid-way cannot lead an operation outside its base.
import { constants, existsSync } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { WorkspaceError, workspaceErrorOf } from './errors.js';

const O_DIRECTORY = (constants.O_DIRECTORY as number | undefined) ?? 0;
const O_NOFOLLOW = (constants.O_NOFOLLOW as number | undefined) ?? 0;
const O_NONBLOCK = (constants.O_NONBLOCK as number | undefined) ?? 0;
const DIR_NOFOLLOW = constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
const DIR_FOLLOW = constants.O_RDONLY | O_DIRECTORY;
/** Never blocks on a FIFO; callers check the file type after opening. */
const FILE_NOFOLLOW = constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const FILE_FOLLOW = constants.O_RDONLY | O_NONBLOCK;

/**
 * On Linux every operation names its target as `/proc/self/fd/<dir fd>/<name>`: the kernel starts from the
 * folder the descriptor holds (like openat(2)), so renaming a parent or swapping it for a symlink after the
 * check changes nothing. Elsewhere paths are rebuilt from the checked real path and each opened descriptor is
 * compared (device, inode) with what that path names, which narrows the race without closing it.
 */
export const ANCHORED = process.platform === 'linux' && existsSync('/proc/self/fd');

/** The folder's mode when this module creates one (umask applies). */
export const DIR_MODE = 0o750;

export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function fail(err: unknown, what: string): never {
  throw workspaceErrorOf(err, what) ?? err;
}

/** The error's code (ENOENT, EEXIST, …), if it has one. */
export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Where an open descriptor really is; throws if it is not `expected` (fallback mode) or not inside `base`. */
async function locate(handle: FileHandle, expected: string, base: string, what: string): Promise<string> {
  let where = expected;
  if (ANCHORED) {
    where = await readlink(`/proc/self/fd/${handle.fd}`);
  } else {
    const [held, named] = await Promise.all([handle.stat(), stat(expected)]);
    if (held.dev !== named.dev || held.ino !== named.ino)
      throw new WorkspaceError(`${what} changed while it was being opened`, 'invalid');
  }
  if (!isWithin(base, where)) throw new WorkspaceError(`${what} resolves outside the allowed folder`, 'outside');
  return where;
}

async function adopt<T>(
  handle: FileHandle,
  expected: string,
  base: string,
  what: string,
  make: (real: string) => T,
): Promise<T> {
  try {
    return make(await locate(handle, expected, base, what));
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/** An open folder inside (or being) the base. Close it when done. */
export class Dir {
  constructor(
    readonly handle: FileHandle,
    /** Its real absolute path when it was opened. */
    readonly real: string,
    /** The real path of the base every descendant must stay in. */
    readonly base: string,
  ) {}

  /** This folder, as a path that goes through the descriptor. */
  get self(): string {
    return ANCHORED ? `/proc/self/fd/${this.handle.fd}` : this.real;
  }

  /** A direct child of this folder, named through the descriptor (never re-walking the path that led here). */
  entry(name: string): string {
    return ANCHORED ? `/proc/self/fd/${this.handle.fd}/${name}` : join(this.real, name);
  }

  /** `/`-separated path of this folder relative to the base ('' = the base itself). */
  get relative(): string {
    return relative(this.base, this.real).split(sep).join('/');
  }

  /** The base-relative path of a child. */
  childPath(name: string): string {
    const here = this.relative;
    return here === '' ? name : `${here}/${name}`;
  }

  close(): Promise<void> {
    return this.handle.close().catch(() => {});
  }
}

/** Opens the base folder itself (by its real path). */
export async function openBase(base: string, what = 'the folder'): Promise<Dir> {
  let real: string;
  try {
    real = await realpath(base);
  } catch (err) {
    fail(err, what);
  }
  let handle: FileHandle;
  try {
    handle = await open(real, DIR_NOFOLLOW);
  } catch (err) {
    fail(err, what);
  }
  return adopt(handle, real, real, what, (where) => new Dir(handle, where, where));
}

/** Follows the symlink `parent/name` if its target is inside the base; `flags` open the target. */
async function follow(
  parent: Dir,
  name: string,
  flags: number,
  what: string,
): Promise<{ handle: FileHandle; target: string }> {
  let target: string;
  try {
    target = await realpath(parent.entry(name));
  } catch (err) {
    if (errno(err) === 'ENOENT')
      throw new WorkspaceError(`${what}: '${name}' is a symbolic link to something that does not exist`, 'not-found');
    fail(err, what);
  }
  if (!isWithin(parent.base, target))
    throw new WorkspaceError(`${what} leads outside the allowed folder through the symbolic link '${name}'`, 'outside');
  try {
    return { handle: await open(target, flags), target };
  } catch (err) {
    fail(err, what);
  }
}

export interface OpenDirOptions {
  /** Create the folder (mode 0750) when it is missing. */
  create?: boolean;
  /** Follow a symlink whose target is inside the base (default true); false refuses every symlink. */
  follow?: boolean;
  /** How messages name the path ("path", "working_dir" …). */
  what: string;
}

/** Opens the child folder `name` of `parent`, never following a link out of the base. */
export async function openDir(
  parent: Dir,
  name: string,
  opts: OpenDirOptions,
): Promise<{ dir: Dir; created: boolean }> {
  const { what } = opts;
  let created = false;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      const handle = await open(parent.entry(name), DIR_NOFOLLOW);
      const dir = await adopt(
        handle,
        join(parent.real, name),
        parent.base,
        what,
        (where) => new Dir(handle, where, parent.base),
      );
      return { dir, created };
    } catch (err) {
      const code = errno(err);
      if (code === 'ENOENT' && opts.create) {
        try {
          await mkdir(parent.entry(name), DIR_MODE);
          created = true;
        } catch (mkErr) {
          if (errno(mkErr) !== 'EEXIST') fail(mkErr, what);
        }
        continue;
      }
      if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'EMLINK') {
        let st;
        try {
          st = await lstat(parent.entry(name));
        } catch (stErr) {
          if (errno(stErr) === 'ENOENT') continue; // it vanished between the two calls: look again
          fail(stErr, what);
        }
        if (st.isSymbolicLink()) {
          if (opts.follow === false) throw new WorkspaceError(`${what}: '${name}' is a symbolic link`, 'invalid');
          const { handle, target } = await follow(parent, name, DIR_FOLLOW, what);
          return {
            dir: await adopt(handle, target, parent.base, what, (where) => new Dir(handle, where, parent.base)),
            created: false,
          };
        }
        if (!st.isDirectory())
          throw new WorkspaceError(`${what}: '${parent.childPath(name)}' is not a folder`, 'not-directory');
        continue; // it became a folder between the two calls: open it again
      }
      if (err instanceof WorkspaceError) throw err;
      fail(err, what);
    }
  }
  throw new WorkspaceError(`${what} kept changing while it was being opened`, 'invalid');
}

/** A file opened for reading: its descriptor and real path (inside the base). */
export interface OpenedFile {
  handle: FileHandle;
  real: string;
}

/** Opens `parent/name` for reading, following a symlink only when its target is inside the base. */
export async function openFileIn(parent: Dir, name: string, what: string): Promise<OpenedFile> {
  let handle: FileHandle;
  let expected = join(parent.real, name);
  try {
    handle = await open(parent.entry(name), FILE_NOFOLLOW);
  } catch (err) {
    const code = errno(err);
    if (code !== 'ELOOP' && code !== 'EMLINK') fail(err, what);
    ({ handle, target: expected } = await follow(parent, name, FILE_FOLLOW, what));
  }
  return adopt(handle, expected, parent.base, what, (real) => ({ handle, real }));
}

/** An open chain of folders from the base down to `dir`, and the folders it created on the way. */
export class Walk {
  constructor(
    readonly dir: Dir,
    /** Folders this walk created, in order: parent (kept open) and name. */
    readonly created: Array<{ parent: Dir; name: string }>,
    private readonly held: Dir[],
  ) {}

  /** Removes the (still empty) folders this walk created, deepest first. */
  async undoCreated(): Promise<void> {
    for (const { parent, name } of [...this.created].reverse()) await rmdir(parent.entry(name)).catch(() => {});
  }

  async close(): Promise<void> {
    for (const d of this.held) await d.close();
  }
}

/**
 * Walks from `base` through `segments`, each a folder (symlinks followed only to targets inside the base; with
 * `create`, missing folders are made one at a time with mkdir on the open parent, never following links).
 * The base itself is not closed by the walk.
 */
export async function walk(base: Dir, segments: readonly string[], opts: OpenDirOptions): Promise<Walk> {
  const held: Dir[] = [];
  const created: Array<{ parent: Dir; name: string }> = [];
  let dir = base;
  try {
    for (const name of segments) {
      const next = await openDir(dir, name, opts);
      if (next.created) created.push({ parent: dir, name });
      // Keep a folder open only while it may be needed: as the current folder or as the parent of one created.
      if (dir !== base && !created.some((c) => c.parent === dir)) {
        await dir.close();
        held.splice(held.indexOf(dir), 1);
      }
      held.push(next.dir);
      dir = next.dir;
    }
  } catch (err) {
    const partial = new Walk(dir, created, held);
    await partial.undoCreated();
    await partial.close();
    throw err;
  }
  return new Walk(dir, created, held);
}
