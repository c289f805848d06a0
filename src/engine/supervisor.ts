// The process supervisor's parts: how each Claude Code process ended (why, exit code or signal, stderr tail), and the per-process memory ceiling (CLI_MAX_RSS_MB).
import { treeResidentBytes, Watchlist } from './wall/memory.js';

/**
 * Why a process ended: `closed` (idle, evicted, deleted, server stop), `stalled` / `timeout` (its turn was stopped),
 * `memory` (past CLI_MAX_RSS_MB), `wall_memory` (past WALL_MEMORY_MB), `crashed` (it exited on its own), or
 * `failed_start` (it never started).
 */
export type ExitReason = 'closed' | 'stalled' | 'timeout' | 'memory' | 'wall_memory' | 'crashed' | 'failed_start';

export interface ProcessExit {
  sessionId: string;
  reason: ExitReason;
  /** The exit code, or null when a signal ended it (or it never started). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the process wrote to stderr. */
  stderrTail: string;
}

export type ExitListener = (exit: ProcessExit) => void;

interface Watched {
  pid: number;
  onExceeded: (bytes: number) => void;
}

/** Measures each watched process (with its children) every 2 s; one past the ceiling is reported once and unwatched. */
export class MemoryCeiling {
  private readonly watched = new Watchlist<Watched>(() => this.tick());

  /** `limitBytes` 0: no ceiling. */
  constructor(private readonly limitBytes: number) {}

  /** Watches `pid`; returns the unwatch. */
  watch(pid: number, onExceeded: (bytes: number) => void): () => void {
    if (this.limitBytes <= 0) return () => undefined;
    return this.watched.add({ pid, onExceeded });
  }

  close(): void {
    this.watched.close();
  }

  private tick(): void {
    for (const w of [...this.watched.entries]) {
      const bytes = treeResidentBytes(w.pid);
      if (bytes <= this.limitBytes) continue;
      this.watched.remove(w);
      w.onExceeded(bytes);
    }
  }
}
