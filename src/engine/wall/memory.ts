// The memory ceiling of the walls: every few seconds, the resident memory of all processes in each wall's pid namespace, summed; a wall past WALL_MEMORY_MB is ended.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** How often resident memory is measured (the wall's ceiling and each process's CLI_MAX_RSS_MB). */
export const MEMORY_TICK_MS = 2_000;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process ended meanwhile
  }
}

function pidNamespaceOf(pid: number | string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/** The children of `pid`. */
function childrenOf(pid: number): number[] {
  const children = read(`/proc/${pid}/task/${pid}/children`)?.trim();
  return children ? children.split(/\s+/).map(Number).filter(Number.isInteger) : [];
}

/** The first child of `pid` (bwrap's process inside the namespaces it made). */
function firstChild(pid: number): number | undefined {
  return childrenOf(pid)[0];
}

function residentBytes(pid: string | number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(read(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) * 1024 : 0;
}

/** The resident memory of `pid` and all its descendants, bytes (0 once it is gone). */
export function treeResidentBytes(pid: number): number {
  let total = 0;
  const todo = [pid];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    total += residentBytes(next);
    todo.push(...childrenOf(next));
  }
  return total;
}

interface Watched {
  /** bwrap's pid, outside the wall. */
  pid: number;
  namespace: string | undefined;
  onExceeded: (bytes: number) => void;
}

/** What a memory ceiling watches, measured together every MEMORY_TICK_MS by a timer that runs while any is watched. */
export class Watchlist<W> {
  readonly entries = new Set<W>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly tick: () => void) {}

  /** Adds `w`; returns its removal. */
  add(w: W): () => void {
    this.entries.add(w);
    this.timer ??= setInterval(this.tick, MEMORY_TICK_MS).unref();
    return () => this.remove(w);
  }

  remove(w: W): void {
    this.entries.delete(w);
    if (this.entries.size > 0) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.entries.clear();
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Resident memory of the processes of each watched wall, with a ceiling. Linux only (reads /proc). */
export class WallMemory {
  private readonly walls = new Watchlist<Watched>(() => this.tick());

  constructor(private readonly limitBytes: number) {}

  /** Watches the wall started as `pid`; `onExceeded` runs once when it passes the limit. Returns the unwatch. */
  watch(pid: number, onExceeded: (bytes: number) => void): () => void {
    if (this.limitBytes <= 0) return () => undefined;
    return this.walls.add({ pid, namespace: undefined, onExceeded });
  }

  /** The summed resident memory of each namespace given, bytes. */
  static usage(namespaces: Set<string>): Map<string, number> {
    const used = new Map<string, number>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const ns = pidNamespaceOf(name);
      if (ns && namespaces.has(ns)) used.set(ns, (used.get(ns) ?? 0) + residentBytes(name));
    }
    return used;
  }

  private tick(): void {
    for (const w of this.walls.entries) {
      if (w.namespace) continue;
      const inner = firstChild(w.pid);
      const ns = inner === undefined ? undefined : pidNamespaceOf(inner);
      if (ns && ns !== pidNamespaceOf('self')) w.namespace = ns;
    }
    const known = [...this.walls.entries].filter((w) => w.namespace);
    if (known.length === 0) return;
    const used = WallMemory.usage(new Set(known.map((w) => w.namespace!)));
    for (const w of known) {
      const bytes = used.get(w.namespace!) ?? 0;
      if (bytes > this.limitBytes) {
        this.walls.remove(w);
        w.onExceeded(bytes);
      }
    }
  }

  close(): void {
    this.walls.close();
  }
}
