// The signed-in key's pending approvals and questions (GET /approvals), kept fresh: every few seconds and on focus.
import { useEffect } from 'preact/hooks';
import { api, type Problem } from './api';
import { useLoad } from './parts/status';
import type { Pending } from './timeline';

/** One row of GET /approvals (docs/api.md). */
export interface PendingItem {
  id: string;
  kind: 'approval' | 'question';
  session: string;
  owner: string;
  turn_id: string;
  job_id: string | null;
  tool: string;
  input: unknown;
  rule: string | null;
  deadline: string;
  created_at: string;
}

/** No stream spans all sessions, so the inbox polls; this often while the tab is visible. */
export const PENDING_POLL_MS = 5000;

/** The row as the approval card takes it (a question's `questions` are its tool input's). */
export function cardOf(item: PendingItem): Pending {
  const input = item.input as { questions?: Pending['questions'] } | null;
  return {
    id: item.id,
    kind: item.kind,
    tool: item.tool,
    input: item.input,
    rule: item.rule,
    questions: item.kind === 'question' ? (input?.questions ?? []) : undefined,
  };
}

export interface PendingState {
  items: PendingItem[] | null;
  problem: Problem | null;
  reload: () => void;
}

/** GET /approvals (useLoad), again every PENDING_POLL_MS while the tab is visible and when it regains focus. */
export function usePending(): PendingState {
  const { value, problem, reload } = useLoad(() => api<PendingItem[]>('/approvals').then((res) => res.data), []);
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, PENDING_POLL_MS);
    addEventListener('focus', reload);
    document.addEventListener('visibilitychange', reload);
    return () => {
      clearInterval(timer);
      removeEventListener('focus', reload);
      document.removeEventListener('visibilitychange', reload);
    };
  }, [reload]);
  return { items: value ?? null, problem, reload };
}
