// WorkspaceError: why a client's path was refused or could not be used, with a reason the HTTP layer maps to a status.

/**
 * - `invalid`: the text breaks a rule (NUL, `..`, backslash, control character, bad UTF-8, too long).
 * - `outside`: it resolves outside the workspace (absolute path elsewhere, symlink pointing out).
 * - `root`: it names the workspace root where that is not allowed (delete, upload target).
 * - `not-found`, `not-directory`, `is-directory`, `not-file`: what is (or is not) on disk.
 * - `exists`: the target is taken (upload with overwrite=false, or a folder in the way).
 * - `not-empty`: a folder to delete holds entries and `recursive` was not asked.
 * - `too-large`: an upload went past its limit. `too-many`: a listing went past its limit.
 * - `denied`: the file system refused the server (permissions). `no-space`: the disk or quota is full.
 * - `moved`: a session's folder is no longer the one made for it (swapped, replaced by a link, moved): not used.
 * - `taken`: a working directory that is a tenant folder, the root, or holds (or lies in) another session's workspace.
 */
export type WorkspaceReason =
  | 'invalid'
  | 'outside'
  | 'root'
  | 'not-found'
  | 'not-directory'
  | 'is-directory'
  | 'not-file'
  | 'exists'
  | 'not-empty'
  | 'too-large'
  | 'too-many'
  | 'denied'
  | 'no-space'
  | 'moved'
  | 'taken';

export class WorkspaceError extends Error {
  override name = 'WorkspaceError';
  constructor(
    message: string,
    readonly reason: WorkspaceReason = 'invalid',
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Errno codes that mean "the OS cannot hold this name" rather than "something is wrong with the server". */
const NAME_ERRNOS = new Set(['ENAMETOOLONG', 'EILSEQ', 'EINVAL']);

/** Maps a filesystem error met while resolving a client's path to a WorkspaceError, or returns undefined. */
export function workspaceErrorOf(err: unknown, what: string): WorkspaceError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return undefined;
  if (code === 'ENOENT') return new WorkspaceError(`${what} does not exist`, 'not-found');
  if (code === 'ENOTDIR') return new WorkspaceError(`${what}: a part of the path is not a folder`, 'not-directory');
  if (code === 'ELOOP') return new WorkspaceError(`${what}: too many levels of symbolic links`, 'invalid');
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new WorkspaceError(`${what}: no space left on the device`, 'no-space');
  if (code === 'EACCES' || code === 'EPERM') return new WorkspaceError(`${what}: permission denied`, 'denied');
  if (NAME_ERRNOS.has(code)) return new WorkspaceError(`${what} is not a name the file system can hold`, 'invalid');
  return undefined;
}
