// The session's working directory as a descriptor for its wall: opened by anchor (the caller's opener), never a stored path followed again.
import { constants, openSync } from 'node:fs';
import type { Dir } from './anchor.js';

/**
 * A descriptor of the folder `open` opens by anchor, for bubblewrap's --bind-fd (the caller closes it). It is the
 * same folder the opener checked: reopened through the open descriptor, not through its path.
 */
export async function workspaceFd(open: () => Promise<Dir>): Promise<number> {
  const dir = await open();
  try {
    return openSync(dir.self, constants.O_RDONLY | constants.O_DIRECTORY);
  } finally {
    await dir.close();
  }
}
