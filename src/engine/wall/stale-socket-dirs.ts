// Removes the model-proxy socket folders that server processes no longer alive left behind (a SIGKILLed server never
// cleans up after itself).
import { readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The socket folder of the server process `pid`: `<root>-proxy-<pid>`. */
export function proxySocketDir(root: string, pid: number): string {
  return `${root}-proxy-${String(pid)}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to another user — not ours to remove, and not a folder of ours either way.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `<root>-proxy-<pid>` folders beside `root` whose process is gone; returns what it removed. The folders hold
 * only unix sockets of a dead process, so nothing of value is lost; a live server's folder is never touched.
 */
export async function removeStaleProxySocketDirs(root: string): Promise<string[]> {
  const parent = dirname(root);
  const prefix = `${basename(root)}-proxy-`;
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pidText = name.slice(prefix.length);
    if (!/^[1-9][0-9]{0,9}$/.test(pidText)) continue;
    const pid = Number(pidText);
    if (pid === process.pid || alive(pid)) continue;
    await rm(join(parent, name), { recursive: true, force: true });
    removed.push(join(parent, name));
  }
  return removed;
}
