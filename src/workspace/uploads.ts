// Writes an upload atomically: streamed into a temp file in the target folder, then renamed (or linked) into place.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, realpath, rename, unlink, type FileHandle } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { errno, isWithin, walk, type Dir, type Walk } from './anchor.js';
import { entryOf, type FileEntry } from './entries.js';
import { WorkspaceError } from './errors.js';
import { lstatOrUndefined, mapped, type OpenWorkspace } from './in-workspace.js';
import { checkName } from './path-text.js';
import { parseAgainst } from './resolve.js';
import { newTempName } from './temp-names.js';

export interface WrittenFile extends FileEntry {
  sha256: string;
  /** False when an existing file was replaced. */
  created: boolean;
}

const FILE_MODE = 0o644;
const CREATE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | ((constants.O_NOFOLLOW as number | undefined) ?? 0);

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
    const parsed = parseAgainst(base, opts.path ?? '', label);
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
