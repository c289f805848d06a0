// Session workspace folders and the working-dir check for /repo, both built on the safe resolver (resolve.ts, anchor.ts).
import { mkdir, realpath } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isWithin, openBase, walk } from './anchor.js';
import { WorkspaceError } from './errors.js';
import { removeTree } from './files.js';
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
    if (err instanceof WorkspaceError) throw new WorkspaceError(`the workspace folder cannot be used: ${err.message}`, err.reason);
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
    if (err instanceof WorkspaceError && err.reason === 'outside') throw new WorkspaceError('working_dir must be inside APPROVED_DIRECTORY', 'outside');
    throw err;
  }
  // The root holds every tenant's folders: only the single tenant of open mode may work there.
  if (resolved.relative === '' && tenant !== 'local') {
    throw new WorkspaceError('working_dir must be a folder inside APPROVED_DIRECTORY, not the root itself', 'outside');
  }
  const first = resolved.relative.split('/')[0] ?? '';
  if (TENANT_DIR.test(first) && first !== tenant) throw new WorkspaceError('working_dir must be inside APPROVED_DIRECTORY', 'outside');
  return resolved.path;
}
