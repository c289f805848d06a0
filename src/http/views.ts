// How stored rows are shown to clients: the API's session, history item and template shapes.
import type { ToolUse, TurnUsage } from '../engine/events.js';
import type { MessageRow, SessionRow } from '../store/schema.js';
import type { Template } from '../templates/registry.js';

/**
 * Views of frozen rows (rows from the store's read cache) are kept and frozen too, so an unchanged row gives the same
 * view object again and its JSON is written once (listItemSerializers).
 */
const sessionViews = new WeakMap<SessionRow, SessionView>();
const historyViews = new WeakMap<MessageRow, HistoryView>();

type SessionView = ReturnType<typeof buildSessionView>;
type HistoryView = ReturnType<typeof buildHistoryView>;

export function sessionView(row: SessionRow, liveness: { live: boolean; busy: boolean }): SessionView {
  if (!Object.isFrozen(row)) return buildSessionView(row, liveness);
  const kept = sessionViews.get(row);
  if (kept && kept.live === liveness.live && kept.busy === liveness.busy) return kept;
  const view = buildSessionView(row, liveness);
  Object.freeze(view.totals);
  sessionViews.set(row, Object.freeze(view));
  return view;
}

export function historyView(row: MessageRow): HistoryView {
  if (!Object.isFrozen(row)) return buildHistoryView(row);
  let view = historyViews.get(row);
  if (!view) {
    view = Object.freeze(buildHistoryView(row));
    historyViews.set(row, view);
  }
  return view;
}

function buildSessionView(row: SessionRow, liveness: { live: boolean; busy: boolean }) {
  return {
    id: row.id,
    name: row.name,
    owner: row.owner,
    status: row.status,
    workspace: row.workspace,
    working_dir: row.working_dir,
    claude_session_id: row.claude_session_id,
    options: row.options,
    template: row.template,
    totals: {
      cost_usd: row.cost_usd,
      turns: row.turns,
      input_tokens: row.input_tokens,
      output_tokens: row.output_tokens,
      cache_read_tokens: row.cache_read_tokens,
      cache_creation_tokens: row.cache_creation_tokens,
    },
    live: liveness.live,
    busy: liveness.busy,
    created_at: row.created_at,
    updated_at: row.updated_at,
    last_active_at: row.last_active_at,
  };
}

function buildHistoryView(row: MessageRow) {
  return {
    id: row.id,
    turn_id: row.turn_id,
    role: row.role,
    content: row.content,
    status: row.status,
    tools_used: row.tools_used as ToolUse[] | null,
    cost_usd: row.cost_usd,
    duration_ms: row.duration_ms,
    num_turns: row.num_turns,
    usage: row.usage as TurnUsage | null,
    model: row.model,
    error: row.error,
    created_at: row.created_at,
  };
}

export function templateView(t: Template) {
  return { name: t.name, source: t.source, ...t.profile, warnings: t.warnings };
}
