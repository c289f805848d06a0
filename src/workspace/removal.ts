// Deletes a file, a link or a folder of a workspace; a folder tree through open descriptors so nothing outside is reached.
import { readdir, realpath, rmdir, unlink } from 'node:fs/promises';
import { errno, isWithin, openDir, type Dir } from './anchor.js';
import { entryOf, type FileEntry } from './entries.js';
import { WorkspaceError } from './errors.js';
import { inFolder, inWorkspace, lstatOrUndefined, mapped, type OpenWorkspace } from './in-workspace.js';
import { parseAgainst } from './resolve.js';

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
    const { segments } = parseAgainst(base, text, label);
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
