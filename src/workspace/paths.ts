// Session workspace folders and the working-dir check for /repo, both built on the safe resolver (resolve.ts, anchor.ts).
import type { Dirent } from 'node:fs';
import { mkdir, readdir, realpath, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isWithin, openBase, openDir, walk, type Dir } from './anchor.js';
import { WorkspaceError } from './errors.js';
import { isTempName, removeTree } from './files.js';
import { checkName } from './path-text.js';
import { resolveInside } from './resolve.js';

export { isWithin } from './anchor.js';
export { WorkspaceError } from './errors.js';

/** Tenant folder names under APPROVED_DIRECTORY: `local` (open mode) or `k_` + 16 hex digits. */
const TENANT_DIR = /^(local|k_[0-9a-f]{16})$/;

export function workspacePathOf(root: string, tenant: string, name: string): string {
  return join(root, tenant, name);
}

/**
 * Creates the session's workspace `<root>/<tenant>/<name>` (and the tenant folder) one folder at a time on open
 * descriptors, refusing any symlink on the way, and returns its real path.
 */
export async function createWorkspace(root: string, tenant: string, name: string): Promise<string> {
  checkName(tenant, 'the tenant folder');
  checkName(name, 'the session name');
  await mkdir(root, { recursive: true, mode: 0o750 });
  const base = await openBase(root, 'APPROVED_DIRECTORY');
  try {
    const w = await walk(base, [tenant, name], { create: true, follow: false, what: 'the workspace folder' });
    await w.close();
    return w.dir.real;
  } catch (err) {
    if (err instanceof WorkspaceError)
      throw new WorkspaceError(`the workspace folder cannot be used: ${err.message}`, err.reason);
    throw err;
  } finally {
    await base.close();
  }
}

/** Deletes a workspace folder and everything in it, never following a symlink and never the root or anything outside it. */
export async function removeWorkspace(root: string, dir: string): Promise<void> {
  const realRoot = await realpath(root);
  const real = await realpath(dir).catch(() => undefined);
  if (!real || real === realRoot || !isWithin(realRoot, real)) return;
  const segments = relative(realRoot, real).split(sep);
  const name = segments.pop()!;
  const base = await openBase(realRoot, 'APPROVED_DIRECTORY');
  try {
    const w = await walk(base, segments, { follow: false, what: 'the workspace folder' });
    try {
      await removeTree(w.dir, name);
    } finally {
      await w.close();
    }
  } catch (err) {
    if (err instanceof WorkspaceError && err.reason === 'not-found') return;
    throw err;
  } finally {
    await base.close();
  }
}

/**
 * Resolves a client's working directory (absolute, or relative to the root) with the safe resolver and checks that
 * it is an existing folder inside the root and not inside another tenant's folder. Returns the real path.
 */
export async function resolveWorkingDir(root: string, tenant: string, candidate: string): Promise<string> {
  let resolved;
  try {
    resolved = await resolveInside(root, candidate, { label: 'working_dir', expect: 'directory' });
  } catch (err) {
    if (err instanceof WorkspaceError && err.reason === 'outside')
      throw new WorkspaceError('working_dir must be inside APPROVED_DIRECTORY', 'outside');
    throw err;
  }
  // The root holds every tenant's folders: only the single tenant of open mode may work there.
  if (resolved.relative === '' && tenant !== 'local') {
    throw new WorkspaceError('working_dir must be a folder inside APPROVED_DIRECTORY, not the root itself', 'outside');
  }
  const first = resolved.relative.split('/')[0] ?? '';
  if (TENANT_DIR.test(first) && first !== tenant)
    throw new WorkspaceError('working_dir must be inside APPROVED_DIRECTORY', 'outside');
  return resolved.path;
}

/**
 * Removes the upload temp files (`.cca-upload-<16 hex>.tmp`, see stageFile) that a server killed mid-upload left in
 * the workspaces `<root>/<tenant>/<name>/…`. Such a file never took the upload's name, so nothing acknowledged goes.
 * Folders are opened one by one without following symlinks, so nothing outside the root is reached; one that cannot
 * be read is passed over. Run it before uploads are taken (start-up): a live upload's temp file would go too.
 * Returns the removed files' paths relative to the root.
 */
export async function removeUploadLeftovers(root: string): Promise<string[]> {
  const removed: string[] = [];
  /** Sweeps the folder `name` of `parent`, opened without following a link; one replaced or unreadable is passed over. */
  const sweepFolder = async (parent: Dir, name: string): Promise<void> => {
    const dir = await openDir(parent, name, { follow: false, what: 'a workspace folder' }).then(
      (opened) => opened.dir,
      () => undefined,
    );
    if (!dir) return;
    try {
      const entries = await readdir(dir.self, { withFileTypes: true }).catch(() => [] as Dirent[]);
      for (const entry of entries) {
        if (entry.isDirectory()) await sweepFolder(dir, entry.name);
        else if (entry.isFile() && isTempName(entry.name)) {
          await unlink(dir.entry(entry.name)).then(
            () => removed.push(dir.childPath(entry.name)),
            () => {}, // gone meanwhile, or not ours to remove
          );
        }
      }
    } finally {
      await dir.close();
    }
  };
  const base = await openBase(root, 'APPROVED_DIRECTORY');
  try {
    for (const tenant of await readdir(base.self)) if (TENANT_DIR.test(tenant)) await sweepFolder(base, tenant);
  } finally {
    await base.close();
  }
  return removed;
}
