// Session workspace folders and the check that a working directory stays inside APPROVED_DIRECTORY (resolved with realpath).
import { mkdir, realpath, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/** Tenant folder names under APPROVED_DIRECTORY: `local` (open mode) or `k_` + 16 hex digits. */
const TENANT_DIR = /^(local|k_[0-9a-f]{16})$/;

export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
}

export function workspacePathOf(root: string, tenant: string, name: string): string {
  return join(root, tenant, name);
}

/** Creates the session's workspace (and parents) and returns its real path. */
export async function createWorkspace(root: string, tenant: string, name: string): Promise<string> {
  const dir = workspacePathOf(root, tenant, name);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const real = await realpath(dir);
  const realRoot = await realpath(root);
  if (!isWithin(realRoot, real)) throw new WorkspaceError('the workspace folder resolves outside APPROVED_DIRECTORY');
  return real;
}

export async function removeWorkspace(root: string, dir: string): Promise<void> {
  const realRoot = await realpath(root);
  const real = await realpath(dir).catch(() => undefined);
  if (!real || real === realRoot || !isWithin(realRoot, real)) return;
  await rm(real, { recursive: true, force: true });
}

/**
 * Resolves a client's working directory (absolute, or relative to the root) with realpath and checks that it is
 * an existing folder inside the root and not inside another tenant's folder. Returns the real path.
 */
export async function resolveWorkingDir(root: string, tenant: string, candidate: string): Promise<string> {
  if (candidate.includes('\0')) throw new WorkspaceError('working_dir must not contain NUL bytes');
  const realRoot = await realpath(root);
  const target = isAbsolute(candidate) ? candidate : resolve(realRoot, candidate);
  let real: string;
  try {
    real = await realpath(target);
  } catch {
    throw new WorkspaceError('working_dir does not exist');
  }
  if (!isWithin(realRoot, real)) throw new WorkspaceError('working_dir must be inside APPROVED_DIRECTORY');
  // The root holds every tenant's folders: only the single tenant of open mode may work there.
  if (real === realRoot && tenant !== 'local') throw new WorkspaceError('working_dir must be a folder inside APPROVED_DIRECTORY, not the root itself');
  const first = relative(realRoot, real).split(sep)[0] ?? '';
  if (TENANT_DIR.test(first) && first !== tenant) throw new WorkspaceError('working_dir must be inside APPROVED_DIRECTORY');
  if (!(await stat(real)).isDirectory()) throw new WorkspaceError('working_dir is not a directory');
  return real;
}

export function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
