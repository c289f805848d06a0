// Opens a file of a workspace for reading (a download, an MCP read) and reports what a path names.
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { openDir, openFileIn } from './anchor.js';
import { entryOf, type FileEntry } from './entries.js';
import { WorkspaceError } from './errors.js';
import { inFolder, inWorkspace, type OpenWorkspace } from './in-workspace.js';
import { parseAgainst } from './resolve.js';

/** An open regular file of the workspace, ready to stream; the caller closes `handle` (a read stream on it does). */
export interface OpenFile {
  handle: FileHandle;
  entry: FileEntry;
  stats: BigIntStats;
}

/** Opens a file for reading, following symlinks only to targets inside the workspace; folders are `is-directory`. */
export function openFile(workspace: OpenWorkspace, text: string, label = 'path'): Promise<OpenFile> {
  return inWorkspace(workspace, (base) => {
    const { segments } = parseAgainst(base, text, label);
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
    const { segments } = parseAgainst(base, text, label);
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
