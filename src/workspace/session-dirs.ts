// Session folders reopened by anchor: walked from APPROVED_DIRECTORY one name at a time without following links, and checked against the (device, inode) recorded when they were made.
import { relative, sep } from 'node:path';
import { Dir, isWithin, openBase, walk } from './anchor.js';
import { WorkspaceError } from './errors.js';

/** A folder's identity: device and inode numbers, as decimal text (an inode may not fit a double). */
export interface Anchor {
  dev: string;
  ino: string;
}

/** A session folder as stored: its real path when it was made, and its anchor (null: not recorded yet). */
export interface AnchoredFolder {
  path: string;
  anchor: Anchor | null;
}

/** An opened session folder and its anchor (the recorded one, or the one read now when none was recorded). */
export interface OpenedFolder {
  /** The folder, itself the base every path below it must stay in. */
  dir: Dir;
  anchor: Anchor;
  /** APPROVED_DIRECTORY's real path. */
  root: string;
}

/** The anchor of an open folder. */
export async function anchorOf(dir: Dir): Promise<Anchor> {
  const st = await dir.handle.stat({ bigint: true });
  return { dev: st.dev.toString(), ino: st.ino.toString() };
}

/** Whether two anchors name the same folder. */
export function sameAnchor(a: Anchor, b: Anchor): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Whether the folder found now is the one recorded. The inode must match. So must the device, unless the folder
 * lies on the file system of APPROVED_DIRECTORY as this machine sees it (`rootDev`): another machine of a cluster
 * numbers the same NFS mount with another device, while the inode (the server's file id) stays; a folder of another
 * file system put at that name (a mount) still differs in device from the root and is refused.
 */
export function matchesAnchor(now: Anchor, recorded: Anchor, rootDev: string): boolean {
  return now.ino === recorded.ino && (now.dev === recorded.dev || now.dev === rootDev);
}

/** The refusal of a folder that is no longer the one made for the session (`what` names it in messages). */
function moved(what: string, why: string): WorkspaceError {
  return new WorkspaceError(
    `${what} is no longer the folder made for this session (${why}), so it is not used`,
    'moved',
  );
}

/**
 * Opens a session folder (its workspace or working directory) from `root`, one name at a time on open descriptors
 * and never through a symbolic link, and checks its (device, inode) against `folder.anchor`. The stored path is only
 * a list of names here: it is never resolved again. Refused as `moved` when the folder is gone, is (or lies below)
 * a symbolic link, is not a folder, or is another folder than the one recorded (swapped, or moved and replaced).
 * The caller closes the returned folder.
 */
export async function openAnchored(root: string, folder: AnchoredFolder, what: string): Promise<OpenedFolder> {
  const base = await openBase(root, 'APPROVED_DIRECTORY');
  let dir: Dir = base;
  let opened = false;
  try {
    if (!isWithin(base.real, folder.path)) throw moved(what, 'its path is not inside APPROVED_DIRECTORY');
    const rel = relative(base.real, folder.path);
    if (rel !== '') {
      try {
        dir = (await walk(base, rel.split(sep), { follow: false, what: `'${rel}'` })).dir;
      } catch (err) {
        if (err instanceof WorkspaceError && ['not-found', 'invalid', 'not-directory'].includes(err.reason))
          throw moved(what, err.message);
        throw err;
      }
    }
    const anchor = await anchorOf(dir);
    if (folder.anchor && !matchesAnchor(anchor, folder.anchor, (await anchorOf(base)).dev))
      throw moved(what, `another folder now has the name '${rel}': it was replaced, or moved away`);
    opened = true;
    return { dir: dir === base ? dir : new Dir(dir.handle, dir.real, dir.real), anchor, root: base.real };
  } finally {
    if (dir !== base) await base.close();
    if (!opened) await dir.close();
  }
}
