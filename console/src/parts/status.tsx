// Shared states of every page: loading, empty, and a problem document shown by its title and detail.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { ProblemError, type Problem } from '../api';

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function ProblemBox({ problem }: { problem: Problem | null | undefined }) {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong>{problem.title ?? 'Error'}</strong>
      {problem.status ? <span class="muted"> ({problem.status})</span> : null}
      {problem.detail ? <p>{problem.detail}</p> : null}
      {problem.errors?.length ? (
        <ul>
          {problem.errors.map((e, i) => (
            <li key={i}>
              {e.pointer ? <code>{e.pointer}</code> : null} {e.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export const problemOfError = (err: unknown): Problem =>
  err instanceof ProblemError ? err.problem : { title: 'Error', detail: String(err) };

/** Loads with `load` (again on `reload()` or when `deps` change): the value, the problem and whether it is loading. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
      (v) => {
        if (!live) return;
        setValue(v);
        setProblem(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (!live) return;
        setProblem(problemOfError(err));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the caller's deps stand for what `load` reads (it is a new closure at each render)
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { value, problem, loading, reload, setValue };
}

/** Runs an action, keeping its problem for display; returns whether it succeeded. */
export function useAction() {
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setProblem(null);
    try {
      await action();
      return true;
    } catch (err) {
      setProblem(problemOfError(err));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { problem, busy, run, setProblem };
}

export const usd = (n: number | null | undefined) => (n == null ? '—' : `$${n.toFixed(4)}`);
export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString() : '—');
