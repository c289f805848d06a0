// Session workspace folders (made, removed, swept) and the working-directory rules, built on the safe resolver (resolve.ts, anchor.ts).
import type { Dirent } from 'node:fs';
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { SPARES_FOLDER } from './adopt.js';
import { isWithin, openBase, openDir, walk, type Dir } from './anchor.js';
import { WorkspaceError } from './errors.js';
import { removeTree } from './removal.js';
import { isTempName } from './temp-names.js';
import { checkName } from './path-text.js';
import { resolveInside } from './resolve.js';
import { anchorOf, openAnchored, type Anchor, type AnchoredFolder, type OpenedFolder } from './session-dirs.js';

export { isWithin } from './anchor.js';
export { WorkspaceError } from './errors.js';

/** Tenant folder names under APPROVED_DIRECTORY: `local` (open mode) or `k_` + 16 hex digits. */
const TENANT_DIR = /^(local|k_[0-9a-f]{16})$/;

export function workspacePathOf(root: string, tenant: string, name: string): string {
  return join(root, tenant, name);
}

/**
 * Creates the session's workspace `<root>/<tenant>/<name>` (and the tenant folder) one folder at a time on open
 * descriptors, refusing any symlink on the way, and returns its real path and anchor (device, inode).
 */
export async function createWorkspace(
  root: string,
  tenant: string,
  name: string,
): Promise<AnchoredFolder & { anchor: Anchor }> {
  checkName(tenant, 'the tenant folder');
  checkName(name, 'the session name');
  await mkdir(root, { recursive: true, mode: 0o750 });
  const base = await openBase(root, 'APPROVED_DIRECTORY');
  try {
    const w = await walk(base, [tenant, name], { create: true, follow: false, what: 'the workspace folder' });
    try {
      return { path: w.dir.real, anchor: await anchorOf(w.dir) };
    } finally {
      await w.close();
    }
  } catch (err) {
    if (err instanceof WorkspaceError)
      throw new WorkspaceError(`the workspace folder cannot be used: ${err.message}`, err.reason);
    throw err;
  } finally {
    await base.close();
  }
}

/**
 * Deletes a session's workspace and everything in it, only while it is still the folder made for the session (by
 * anchor; a folder swapped or moved is left alone), never following a symlink and never the root.
 */
export async function removeWorkspace(root: string, folder: AnchoredFolder): Promise<void> {
  let checked: OpenedFolder;
  try {
    checked = await openAnchored(root, folder, 'the workspace folder');
  } catch (err) {
    if (err instanceof WorkspaceError && err.reason === 'moved') return;
    throw err;
  }
  const base = await openBase(root, 'APPROVED_DIRECTORY');
  try {
    await checked.dir.close();
    const segments = relative(base.real, folder.path).split(sep);
    const name = segments.pop();
    if (!name) return;
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

/** Which sessions' workspaces are one of `paths` or lie below `below` (the caller's own session left out). */
export type WorkspaceHolders = (paths: string[], below: string) => Promise<unknown[]>;

/**
 * The rules a working directory's real path must meet: inside the root, not the root itself, not a tenant folder,
 * not in another tenant's folder, and holding no other session's workspace nor lying inside one.
 */
export async function checkWorkingDir(
  rootReal: string,
  real: string,
  tenant: string,
  holders: WorkspaceHolders,
): Promise<void> {
  if (!isWithin(rootReal, real)) throw new WorkspaceError('working_dir must be inside APPROVED_DIRECTORY', 'outside');
  const rel = relative(rootReal, real);
  const segments = rel === '' ? [] : rel.split(sep);
  const first = segments[0];
  if (first === undefined)
    throw new WorkspaceError(
      "working_dir must be a folder inside APPROVED_DIRECTORY, not the root itself (it holds every tenant's folders)",
      'taken',
    );
  // Warm spares' workspaces wait there to become new sessions' (of any tenant): no session may reach into it.
  if (first === SPARES_FOLDER) throw new WorkspaceError("working_dir must not be the warm spares' folder", 'outside');
  if (TENANT_DIR.test(first) && first !== tenant)
    throw new WorkspaceError('working_dir must be inside APPROVED_DIRECTORY', 'outside');
  if (segments.length === 1 && TENANT_DIR.test(first))
    throw new WorkspaceError(
      "working_dir must not be a tenant folder (it holds the tenant's session workspaces)",
      'taken',
    );
  const ancestors = segments.slice(0, -1).map((_, i) => join(rootReal, ...segments.slice(0, i + 1)));
  if ((await holders([real, ...ancestors], real)).length > 0)
    throw new WorkspaceError(
      "working_dir must not hold another session's workspace or lie inside one; use a folder of this session's own",
      'taken',
    );
}

/**
 * Resolves a client's working directory (absolute, or relative to the root) with the safe resolver, checks the
 * working-directory rules (checkWorkingDir) and returns its real path and anchor.
 */
export async function resolveWorkingDir(
  root: string,
  tenant: string,
  candidate: string,
  holders: WorkspaceHolders,
): Promise<AnchoredFolder & { anchor: Anchor }> {
  let resolved;
  try {
    resolved = await resolveInside(root, candidate, { label: 'working_dir', expect: 'directory' });
  } catch (err) {
    if (err instanceof WorkspaceError && err.reason === 'outside')
      throw new WorkspaceError('working_dir must be inside APPROVED_DIRECTORY', 'outside');
    throw err;
  }
  await checkWorkingDir(resolved.base, resolved.path, tenant, holders);
  const { dir, anchor } = await openAnchored(root, { path: resolved.path, anchor: null }, 'working_dir');
  await dir.close();
  return { path: resolved.path, anchor };
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
