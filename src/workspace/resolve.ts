// The one safe path resolver: a client's path → a real path inside a base folder, or a WorkspaceError saying why not.
import { lstat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { openBase, openDir, openFileIn, walk, type Dir } from './anchor.js';
import { WorkspaceError } from './errors.js';
import { parseClientPath, type PathText } from './path-text.js';

export interface ResolveOptions {
  /** How messages name the path (`path`, `working_dir` …). */
  label?: string;
  /** Other names of the base an absolute path may start with (e.g. the configured, not yet real, path). */
  aliases?: readonly string[];
  /** `directory`: the path must name a folder. `any` (default): a folder or a file. */
  expect?: 'directory' | 'any';
}

export interface Resolved {
  /** Real absolute path (no symlinks), inside the base. */
  path: string;
  /** `/`-separated path relative to the base's real path ('' = the base itself). */
  relative: string;
  /** The base's real path. */
  base: string;
  isDirectory: boolean;
}

/** A client's path parsed against an opened base: the text rules, and absolute paths only under the base. */
export function parseAgainst(base: Dir, text: string, label: string, aliases: readonly string[] = []): PathText {
  return parseClientPath(text, label, base.real, aliases);
}

/**
 * Resolves `candidate` (relative to `base`, or absolute under it) to an existing entry, walking it one name at a
 * time from the opened base. Refuses NUL bytes, bad UTF-8, control characters, backslashes, `..`, over-long
 * names, absolute paths elsewhere, and symlinks (anywhere along the path) whose target is outside the base.
 * The answer is a real path that was inside the base when it was opened; what a caller later does with the
 * string is its own race (file operations use the descriptor-based operations in listing.ts, reading.ts, uploads.ts and removal.ts instead).
 */
export async function resolveInside(base: string, candidate: string, opts: ResolveOptions = {}): Promise<Resolved> {
  const label = opts.label ?? 'path';
  const root = await openBase(base, `the base folder of ${label}`);
  try {
    const { segments } = parseAgainst(root, candidate, label, [base, ...(opts.aliases ?? [])]);
    const last = segments.at(-1);
    if (last === undefined) return { path: root.real, relative: '', base: root.real, isDirectory: true };
    const w = await walk(root, segments.slice(0, -1), { what: label });
    try {
      try {
        const { dir } = await openDir(w.dir, last, { what: label });
        await dir.close();
        return { path: dir.real, relative: relativeOf(root.real, dir.real), base: root.real, isDirectory: true };
      } catch (err) {
        if (!(err instanceof WorkspaceError && err.reason === 'not-directory') || opts.expect === 'directory')
          throw err;
      }
      const file = await openFileIn(w.dir, last, label);
      await file.handle.close();
      return { path: file.real, relative: relativeOf(root.real, file.real), base: root.real, isDirectory: false };
    } finally {
      await w.close();
    }
  } finally {
    await root.close();
  }
}

function relativeOf(base: string, real: string): string {
  return real === base
    ? ''
    : real
        .slice(base.length + (base.endsWith(sep) ? 0 : 1))
        .split(sep)
        .join('/');
}

/**
 * Where a path below an open `base` lands, as the kernel would walk it for a tool that reads or creates it:
 * `segments` (plain names, no `.` or `..`) are opened one at a time from the base, symlinks followed only to
 * targets inside the base. The first name that does not exist ends the walk: the rest would be created inside the
 * folder reached. Refused (WorkspaceError) when a link leads out, dangles or loops, or a name before the last is
 * not a folder. Answers the real path.
 */
export async function landingOf(base: Dir, segments: readonly string[], label: string): Promise<string> {
  let dir = base;
  try {
    for (let i = 0; i < segments.length; i++) {
      const name = segments[i]!;
      const last = i === segments.length - 1;
      let next: Dir;
      try {
        next = (await openDir(dir, name, { what: label })).dir;
      } catch (err) {
        if (!(err instanceof WorkspaceError)) throw err;
        if (err.reason === 'not-found' && !(await isLink(dir.entry(name)))) return join(dir.real, ...segments.slice(i));
        if (err.reason !== 'not-directory' || !last) throw err;
        const file = await openFileIn(dir, name, label);
        await file.handle.close();
        return file.real;
      }
      if (dir !== base) await dir.close();
      dir = next;
    }
    return dir.real;
  } finally {
    if (dir !== base) await dir.close();
  }
}

async function isLink(path: string): Promise<boolean> {
  return lstat(path).then(
    (st) => st.isSymbolicLink(),
    () => false,
  );
}
