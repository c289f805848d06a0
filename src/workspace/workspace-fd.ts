// The session's working directory opened as a descriptor for its wall: reached from APPROVED_DIRECTORY one name at a time, never through a link.
import { openSync } from 'node:fs';
import { constants } from 'node:fs';
import { relative, sep } from 'node:path';
import { isWithin, openBase, walk } from './anchor.js';
import { WorkspaceError } from './errors.js';

/**
 * Opens `dir` (inside `root`) by walking from the root without following symlinks, and returns a descriptor of it
 * for bubblewrap's --bind-fd (the caller closes it). A folder swapped for a link on the way is refused.
 */
export async function openWorkspaceFd(root: string, dir: string): Promise<number> {
  const base = await openBase(root, 'APPROVED_DIRECTORY');
  try {
    if (!isWithin(base.real, dir))
      throw new WorkspaceError('the working directory is outside APPROVED_DIRECTORY', 'outside');
    const rel = relative(base.real, dir);
    const w = await walk(base, rel === '' ? [] : rel.split(sep), { follow: false, what: 'the working directory' });
    try {
      return openSync(w.dir.self, constants.O_RDONLY | constants.O_DIRECTORY);
    } finally {
      await w.close();
    }
  } finally {
    await base.close();
  }
}
