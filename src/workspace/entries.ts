// What a listing or a file operation reports of one entry of a workspace: name, path, type, size, modification time.
import type { BigIntStats, Stats } from 'node:fs';

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

function typeOf(st: Stats | BigIntStats): EntryType {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'directory';
  if (st.isFile()) return 'file';
  return 'other';
}

export function entryOf(name: string, path: string, st: Stats | BigIntStats): FileEntry {
  return { name, path, type: typeOf(st), size: Number(st.size), modified: new Date(Number(st.mtimeMs)).toISOString() };
}
