// How a file operation reaches its workspace (opened afresh and checked) and a folder in it, and how it reports what the file system throws.
import type { Stats } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { errno, walk, type Dir, type Walk } from './anchor.js';
import { WorkspaceError, workspaceErrorOf } from './errors.js';

export function mapped(err: unknown, what: string): unknown {
  return err instanceof WorkspaceError ? err : (workspaceErrorOf(err, what) ?? err);
}

/**
 * How a file operation gets its workspace: a function that opens it afresh and checked (the sessions layer opens it
 * by anchor, see session-dirs.ts), never a path resolved again. Each call answers a new folder the operation closes.
 */
export type OpenWorkspace = () => Promise<Dir>;

/** Opens the workspace, runs `fn` on it, closes it. */
export async function inWorkspace<T>(workspace: OpenWorkspace, fn: (base: Dir) => Promise<T>): Promise<T> {
  const base = await workspace();
  try {
    return await fn(base);
  } finally {
    await base.close();
  }
}

export async function inFolder<T>(
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

export async function lstatOrUndefined(path: string, what: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    throw mapped(err, what);
  }
}
