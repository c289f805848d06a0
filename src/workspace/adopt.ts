// A warm spare's workspace folder made a new session's: moved onto the session's empty workspace (one rename), so the folder the spare's wall binds is the session's, by inode.
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkspaceError } from './errors.js';
import { openAnchored, sameAnchor, type Anchor, type AnchoredFolder } from './session-dirs.js';

/** Where spares' workspace folders wait, inside APPROVED_DIRECTORY (same file system, so a rename moves them). */
export const SPARES_FOLDER = '.spares';

/** Makes a spare's empty workspace folder `<root>/.spares/<id>` (mode 0700) and answers its path. */
export async function makeSpareFolder(root: string, spareId: string): Promise<string> {
  const dir = join(root, SPARES_FOLDER, spareId);
  await mkdir(join(root, SPARES_FOLDER), { recursive: true, mode: 0o700 });
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

async function anchorAt(path: string): Promise<Anchor> {
  const st = await stat(path, { bigint: true });
  return { dev: st.dev.toString(), ino: st.ino.toString() };
}

/**
 * Moves the spare's folder `from` onto the session's workspace `to`, which must still be the folder recorded (by
 * anchor) and empty: rename(2) replaces an empty folder atomically and refuses a non-empty one, so nothing the
 * session holds is lost. Answers the new anchor of the session's workspace (the spare folder's).
 */
export async function adoptSpareFolder(root: string, from: string, to: AnchoredFolder): Promise<Anchor> {
  const opened = await openAnchored(root, to, "the session's workspace folder");
  try {
    if ((await readdir(opened.dir.self)).length > 0)
      throw new WorkspaceError("the session's workspace is not empty", 'invalid');
  } finally {
    await opened.dir.close();
  }
  // Nothing may come with it: a spare's folder is empty until it is a session's (no session can reach it).
  if (!(await isEmptyFolder(from))) throw new WorkspaceError("the spare's workspace is not empty", 'invalid');
  const anchor = await anchorAt(from);
  await rename(from, to.path);
  if (!sameAnchor(await anchorAt(to.path), anchor))
    throw new WorkspaceError("the session's workspace changed while the spare's folder was moved in", 'moved');
  return anchor;
}

/** Whether the folder at `path` is empty (false when it cannot be read). */
export async function isEmptyFolder(path: string): Promise<boolean> {
  return readdir(path).then(
    (names) => names.length === 0,
    () => false,
  );
}
