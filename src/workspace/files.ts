// Files of a workspace: list, stat, open for reading, write atomically (temp file + rename), delete; every path through the safe resolver.
import { createHash, randomBytes } from 'node:crypto';
import { constants, type BigIntStats, type Stats } from 'node:fs';
import { link, lstat, open, readdir, realpath, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { Dir, isWithin, openDir, openFileIn, walk, type Walk } from './anchor.js';
import { WorkspaceError, workspaceErrorOf } from './errors.js';
import { checkName, type PathText } from './path-text.js';
import { parseAgainst } from './resolve.js';

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface FileEntry {
  name: string;
  /** `/`-separated, relative to the workspace. */
  path: string;
  type: EntryType;
  /** Bytes (for a symlink: the length of its target text; for a folder: what the file system reports). */
  size: number;
  /** ISO 8601 modification time. */
  modified: string;
}

export interface WrittenFile extends FileEntry {
  sha256: string;
  /** False when an existing file was replaced. */
  created: boolean;
}

/** Prefix of the temp files uploads are written to (hidden, removed on any failure). */
export const TEMP_PREFIX = '.cca-upload-';
const TEMP_SUFFIX = '.tmp';
const TEMP_ID = /^[0-9a-f]{16}$/;

/** A new temp file name: the prefix, 16 hex digits, `.tmp`. */
function newTempName(): string {
  return `${TEMP_PREFIX}${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`;
}

/** Whether a name is one newTempName() makes (what a start-up sweeps when a killed server left one; see paths.ts). */
export function isTempName(name: string): boolean {
  return (
    name.startsWith(TEMP_PREFIX) &&
    name.endsWith(TEMP_SUFFIX) &&
    TEMP_ID.test(name.slice(TEMP_PREFIX.length, -TEMP_SUFFIX.length))
  );
}
const FILE_MODE = 0o644;
const CREATE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | ((constants.O_NOFOLLOW as number | undefined) ?? 0);

function typeOf(st: Stats | BigIntStats): EntryType {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  return 'other';
}

export function entryOf(name: string, path: string, st: Stats | BigIntStats): FileEntry {
  return { name, path, type: typeOf(st), size: Number(st.size), modified: new Date(Number(st.mtimeMs)).toISOString() };
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function mapped(err: unknown, what: string): unknown {
  return err instanceof WorkspaceError ? err : (workspaceErrorOf(err, what) ?? err);
}

/**
 * How a file operation gets its workspace: a function that opens it afresh and checked (the sessions layer opens it
 * by anchor, see session-dirs.ts), never a path resolved again. Each call answers a new folder the operation closes.
 */
export type OpenWorkspace = () => Promise<Dir>;

/** Opens the workspace, runs `fn` on it, closes it. */
async function inWorkspace<T>(workspace: OpenWorkspace, fn: (base: Dir) => Promise<T>): Promise<T> {
  const base = await workspace();
  try {
    return await fn(base);
  } finally {
    await base.close();
  }
}

async function inFolder<T>(
  base: Dir,
  segments: readonly string[],
  what: string,
  fn: (w: Walk) => Promise<T>,
): Promise<T> {
  const w = await walk(base, segments, { what });
  try {
    return await fn(w);
  } finally {
    await w.close();
  }
}

function parse(base: Dir, text: string, label: string): PathText {
  return parseAgainst(base, text, label);
}

export interface ListOptions {
  recursive?: boolean;
  includeHidden?: boolean;
  /** Most entries to collect before refusing with `too-many`. */
  maxEntries: number;
  label?: string;
}

/**
 * Lists a folder of the workspace (default: its root), sorted by path; with `recursive`, depth first. Symlinks
 * are listed as `symlink` and never followed; hidden names (leading dot) are left out unless asked, and so is
 * everything under a hidden folder.
 */
export function listFiles(workspace: OpenWorkspace, text: string, opts: ListOptions): Promise<FileEntry[]> {
  const label = opts.label ?? 'path';
  return inWorkspace(workspace, (base) => {
    const { segments } = parse(base, text, label);
    return inFolder(base, segments, label, async (w) => {
      const out: FileEntry[] = [];
      const collect = async (dir: Dir): Promise<void> => {
        const names = (await readdir(dir.self)).sort();
        for (const name of names) {
          if (!opts.includeHidden && name.startsWith('.')) continue;
          let st: Stats;
          try {
            st = await lstat(dir.entry(name));
          } catch {
            continue; // gone since readdir
          }
          if (out.length >= opts.maxEntries) {
            throw new WorkspaceError(
              `the listing holds more than ${opts.maxEntries} entries; list a sub-folder or without recursive`,
              'too-many',
              { limit: opts.maxEntries },
            );
          }
          out.push(entryOf(name, dir.childPath(name), st));
          if (!opts.recursive || !st.isDirectory()) continue;
          let sub: Dir;
          try {
            sub = (await openDir(dir, name, { follow: false, what: label })).dir;
          } catch (err) {
            if (err instanceof WorkspaceError) continue; // replaced or removed since lstat
            throw err;
          }
          try {
            await collect(sub);
          } finally {
            await sub.close();
          }
        }
      };
      await collect(w.dir);
      return out;
    });
  });
}

/** An open regular file of the workspace, ready to stream; the caller closes `handle` (a read stream on it does). */
export interface OpenFile {
  handle: FileHandle;
  entry: FileEntry;
  stats: BigIntStats;
}

/** Opens a file for reading, following symlinks only to targets inside the workspace; folders are `is-directory`. */
export function openFile(workspace: OpenWorkspace, text: string, label = 'path'): Promise<OpenFile> {
  return inWorkspace(workspace, (base) => {
    const { segments } = parse(base, text, label);
    const last = segments.at(-1);
    if (last === undefined) throw new WorkspaceError(`${label} names the workspace folder itself`, 'is-directory');
    return inFolder(base, segments.slice(0, -1), label, async (w) => {
      const { handle, real } = await openFileIn(w.dir, last, label);
      try {
        const stats = await handle.stat({ bigint: true });
        const path = relative(base.real, real).split(sep).join('/');
        if (stats.isDirectory()) throw new WorkspaceError(`${label} '${path}' is a folder`, 'is-directory');
        if (!stats.isFile()) throw new WorkspaceError(`${label} '${path}' is not a regular file`, 'not-file');
        return { handle, stats, entry: entryOf(path.slice(path.lastIndexOf('/') + 1), path, stats) };
      } catch (err) {
        await handle.close().catch(() => {});
        throw err;
      }
    });
  });
}

/** Metadata of what a path names (a symlink inside the workspace is reported as its target). */
export function statPath(workspace: OpenWorkspace, text: string, label = 'path'): Promise<FileEntry> {
  return inWorkspace(workspace, (base) => {
    const { segments } = parse(base, text, label);
    const last = segments.at(-1);
    return inFolder(base, segments.slice(0, last === undefined ? segments.length : -1), label, async (w) => {
      if (last === undefined) return entryOf('', '', await w.dir.handle.stat());
      try {
        const { dir } = await openDir(w.dir, last, { what: label });
        try {
          return entryOf(dir.real.slice(dir.real.lastIndexOf(sep) + 1), dir.relative, await dir.handle.stat());
        } finally {
          await dir.close();
        }
      } catch (err) {
        if (!(err instanceof WorkspaceError && err.reason === 'not-directory')) throw err;
      }
      const { handle, real } = await openFileIn(w.dir, last, label);
      try {
        const path = relative(base.real, real).split(sep).join('/');
        return entryOf(path.slice(path.lastIndexOf('/') + 1), path, await handle.stat());
      } finally {
        await handle.close();
      }
    });
  });
}

export interface StageOptions {
  /** Target path; undefined, empty, `.` or ending in `/` = a folder, and the file goes in it as `name`. */
  path?: string;
  /** File name used when `path` names a folder (e.g. the uploaded file's name). */
  name?: string;
  /** Replace an existing file (default true); false = `exists` if the target is taken. */
  overwrite?: boolean;
  maxBytes: number;
  label?: string;
  /** Label of `name` in messages. */
  nameLabel?: string;
}

/** An upload written to its temp file in the target folder: commit() renames it into place, discard() removes it. */
export interface StagedFile {
  readonly path: string;
  readonly size: number;
  commit(): Promise<WrittenFile>;
  discard(): Promise<void>;
}

/** Where a new file goes: its open folder (with the walk that got there) and its name. */
interface Target {
  w: Walk;
  name: string;
  existed: boolean;
}

async function lstatOrUndefined(path: string, what: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw mapped(err, what);
  }
}

async function targetOf(base: Dir, segments: string[], label: string, overwrite: boolean): Promise<Target> {
  const name = segments.at(-1)!;
  let w = await walk(base, segments.slice(0, -1), { create: true, what: label });
  try {
    let target = name;
    let st = await lstatOrUndefined(w.dir.entry(name), label);
    if (st?.isSymbolicLink()) {
      // Writing through a link that stays inside: the file goes where the link points, checked like any path.
      let real: string;
      try {
        real = await realpath(w.dir.entry(name));
      } catch (err) {
        if (errno(err) === 'ENOENT')
          throw new WorkspaceError(
            `${label}: '${name}' is a symbolic link to something that does not exist`,
            'invalid',
          );
        throw mapped(err, label);
      }
      if (!isWithin(base.real, real))
        throw new WorkspaceError(`${label} leads outside the workspace through the symbolic link '${name}'`, 'outside');
      const realSegments = relative(base.real, real).split(sep);
      target = realSegments.pop()!;
      const next = await walk(base, realSegments, { what: label });
      await w.close();
      w = next;
      st = await lstatOrUndefined(w.dir.entry(target), label);
      if (st?.isSymbolicLink()) throw new WorkspaceError(`${label} kept changing while it was being opened`, 'invalid');
    }
    if (st?.isDirectory()) throw new WorkspaceError(`${label} '${w.dir.childPath(target)}' is a folder`, 'exists');
    if (st && !st.isFile())
      throw new WorkspaceError(`${label} '${w.dir.childPath(target)}' is not a regular file`, 'exists');
    if (st && !overwrite)
      throw new WorkspaceError(`${label} '${w.dir.childPath(target)}' already exists (overwrite=false)`, 'exists');
    return { w, name: target, existed: st !== undefined };
  } catch (err) {
    await w.undoCreated();
    await w.close();
    throw err;
  }
}

/**
 * Streams `source` into a new temp file (O_CREAT|O_EXCL|O_NOFOLLOW) in the target's folder, creating missing
 * folders one by one without following links. Over `maxBytes` (or when `truncated()` says the source was cut)
 * it fails with `too-large`; on any failure the temp file and the folders it created are removed.
 */
export async function stageFile(
  workspace: OpenWorkspace,
  source: AsyncIterable<Uint8Array>,
  opts: StageOptions & { truncated?: () => boolean },
): Promise<StagedFile> {
  const label = opts.label ?? 'path';
  const overwrite = opts.overwrite ?? true;
  const base = await workspace();
  let target: Target | undefined;
  let temp: string | undefined;
  let fh: FileHandle | undefined;
  const cleanup = async () => {
    await fh?.close().catch(() => {});
    if (target && temp) await unlink(target.w.dir.entry(temp)).catch(() => {});
    await target?.w.undoCreated();
    await target?.w.close();
    await base.close();
  };
  try {
    const parsed = parse(base, opts.path ?? '', label);
    const segments = [...parsed.segments];
    if (opts.path === undefined || segments.length === 0 || parsed.trailingSlash) {
      if (opts.name === undefined)
        throw new WorkspaceError(`${label} names a folder and the file has no name`, 'invalid');
      try {
        segments.push(checkName(opts.name, opts.nameLabel ?? 'the file name'));
      } catch (err) {
        // Tell the caller it is the name, not the path, that was refused.
        if (err instanceof WorkspaceError) throw new WorkspaceError(err.message, err.reason, { field: 'name' });
        throw err;
      }
    }
    target = await targetOf(base, segments, label, overwrite);
    const t = target;
    temp = newTempName();
    fh = await open(t.w.dir.entry(temp), CREATE_FLAGS, FILE_MODE);
    const hash = createHash('sha256');
    let size = 0;
    const tooLarge = () =>
      new WorkspaceError(`the file is larger than the limit of ${opts.maxBytes} bytes`, 'too-large', {
        limit_bytes: opts.maxBytes,
      });
    for await (const chunk of source) {
      size += chunk.length;
      if (size > opts.maxBytes) throw tooLarge();
      hash.update(chunk);
      await fh.write(chunk);
    }
    if (opts.truncated?.()) throw tooLarge();
    await fh.datasync();
    const stats = await fh.stat();
    await fh.close();
    fh = undefined;
    const sha256 = hash.digest('hex');
    const path = t.w.dir.childPath(t.name);
    let settled = false;
    const tempName = temp;
    return {
      path,
      size,
      async commit() {
        if (settled) throw new Error('the staged file was already committed or discarded');
        settled = true;
        try {
          await place(t, tempName, overwrite, label);
          const entry = entryOf(t.name, path, stats);
          const done: WrittenFile = { ...entry, sha256, created: !t.existed };
          await t.w.close();
          await base.close();
          return done;
        } catch (err) {
          await cleanup();
          throw err;
        }
      },
      async discard() {
        if (settled) return;
        settled = true;
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw mapped(err, label);
  }
}

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK', 'ENOSYS']);

/** Moves the temp file onto its name: rename (replaces), or link+unlink so an existing name is never replaced. */
async function place(t: Target, temp: string, overwrite: boolean, label: string): Promise<void> {
  const from = t.w.dir.entry(temp);
  const to = t.w.dir.entry(t.name);
  const taken = () => new WorkspaceError(`${label} '${t.w.dir.childPath(t.name)}' already exists`, 'exists');
  if (!overwrite) {
    try {
      await link(from, to);
      await unlink(from);
      return;
    } catch (err) {
      if (errno(err) === 'EEXIST') throw taken();
      if (!NO_HARD_LINKS.has(errno(err) ?? '')) throw mapped(err, label);
    }
    // No hard links here: check, then rename (a race with another writer of the same name is possible).
    if (await lstatOrUndefined(to, label)) throw taken();
  }
  try {
    await rename(from, to);
  } catch (err) {
    const code = errno(err);
    if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST')
      throw new WorkspaceError(`${label} '${t.w.dir.childPath(t.name)}' is a folder`, 'exists');
    throw mapped(err, label);
  }
}

/** Writes a whole file at once (staged, then committed). */
export async function writeFile(
  workspace: OpenWorkspace,
  source: AsyncIterable<Uint8Array>,
  opts: StageOptions,
): Promise<WrittenFile> {
  return (await stageFile(workspace, source, opts)).commit();
}

export interface RemoveOptions {
  /** Delete a folder with everything in it; otherwise only an empty folder. */
  recursive?: boolean;
  label?: string;
}

/**
 * Deletes what a path names. A symlink is removed itself, never its target, and only when that target is inside
 * the workspace (a link out or to nothing is refused like on every route); a folder only when empty unless
 * `recursive` (links inside it are removed as links); the workspace root never.
 */
export function removePath(workspace: OpenWorkspace, text: string, opts: RemoveOptions = {}): Promise<FileEntry> {
  const label = opts.label ?? 'path';
  return inWorkspace(workspace, (base) => {
    const { segments } = parse(base, text, label);
    const name = segments.at(-1);
    if (name === undefined)
      throw new WorkspaceError(`${label} names the workspace folder itself, which cannot be deleted`, 'root');
    return inFolder(base, segments.slice(0, -1), label, async (w) => {
      const st = await lstatOrUndefined(w.dir.entry(name), label);
      if (!st) throw new WorkspaceError(`${label} '${w.dir.childPath(name)}' does not exist`, 'not-found');
      const entry = entryOf(name, w.dir.childPath(name), st);
      if (st.isSymbolicLink()) {
        // Like every route, refuse a path whose final link leads out (or nowhere); a link inside is removed itself.
        let target: string;
        try {
          target = await realpath(w.dir.entry(name));
        } catch (err) {
          if (errno(err) === 'ENOENT')
            throw new WorkspaceError(
              `${label}: '${entry.path}' is a symbolic link to something that does not exist`,
              'invalid',
            );
          throw mapped(err, label);
        }
        if (!isWithin(base.real, target))
          throw new WorkspaceError(
            `${label} leads outside the workspace through the symbolic link '${name}'`,
            'outside',
          );
      }
      if (!st.isDirectory()) {
        await unlink(w.dir.entry(name)).catch((err: unknown) => {
          throw mapped(err, label);
        });
      } else if (opts.recursive) {
        await removeTree(w.dir, name);
      } else {
        await rmdir(w.dir.entry(name)).catch((err: unknown) => {
          const code = errno(err);
          if (code === 'ENOTEMPTY' || code === 'EEXIST')
            throw new WorkspaceError(
              `${label} '${entry.path}' is a folder that is not empty; delete with recursive=true`,
              'not-empty',
            );
          throw mapped(err, label);
        });
      }
      return entry;
    });
  });
}

/**
 * Removes `parent/name` and everything under it through open descriptors: folders are opened without following
 * links, their entries unlinked by name inside them, so a folder swapped for a symlink mid-way is unlinked as
 * a link and nothing outside is reached.
 */
export async function removeTree(parent: Dir, name: string): Promise<void> {
  let dir: Dir;
  try {
    dir = (await openDir(parent, name, { follow: false, what: 'the folder' })).dir;
  } catch (err) {
    if (err instanceof WorkspaceError && err.reason === 'not-found') return;
    if (err instanceof WorkspaceError && (err.reason === 'invalid' || err.reason === 'not-directory')) {
      // A symlink or a file (now): remove the entry itself.
      await unlink(parent.entry(name)).catch((e: unknown) => {
        if (errno(e) !== 'ENOENT') throw e;
      });
      return;
    }
    throw err;
  }
  try {
    for (const child of await readdir(dir.self)) {
      const st = await lstatOrUndefined(dir.entry(child), 'the folder');
      if (!st) continue;
      if (st.isDirectory()) await removeTree(dir, child);
      else
        await unlink(dir.entry(child)).catch((e: unknown) => {
          if (errno(e) !== 'ENOENT') throw e;
        });
    }
  } finally {
    await dir.close();
  }
  await rmdir(parent.entry(name)).catch((e: unknown) => {
    if (errno(e) !== 'ENOENT') throw e;
  });
}
