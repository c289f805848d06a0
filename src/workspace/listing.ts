// Lists a folder of a workspace, flat or recursive, without following symlinks.
import type { Stats } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { openDir, type Dir } from './anchor.js';
import { entryOf, type FileEntry } from './entries.js';
import { WorkspaceError } from './errors.js';
import { inFolder, inWorkspace, type OpenWorkspace } from './in-workspace.js';
import { parseAgainst } from './resolve.js';

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
    const { segments } = parseAgainst(base, text, label);
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
