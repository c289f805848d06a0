// Watches a file or a folder of files for changes (fs.watch on the folder, so editors that save by rename are seen) with a debounce.
import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange` once things have been quiet for `debounceMs` after a change to `path` (a file) or to a file of
 * `path` (a folder) whose name matches `pattern`.
 */
export function watchFiles(
  path: string,
  pattern: RegExp,
  debounceMs: number,
  onChange: () => void,
  onError: (err: Error) => void,
): FileWatch {
  const isDir = statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  const dir = isDir ? path : dirname(path);
  const wanted = (name: string | null) =>
    name === null ? true : isDir ? pattern.test(name) && !name.startsWith('.') : name === basename(path);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent: false }, (_event, name) => {
      if (!wanted(name)) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
    watcher.on('error', onError);
  } catch (err) {
    onError(err as Error);
  }
  return {
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
