// How stored rows are shown to clients: the API's session, history item and template shapes.
import type { ToolUse, TurnUsage } from '../engine/events.js';
import type { MessageRow, SessionRow } from '../store/schema.js';
import type { Template } from '../templates/registry.js';
import type { TemplateProfile } from '../templates/schema.js';

/**
 * Views of frozen rows (rows from the store's read cache) are kept and frozen too, so an unchanged row gives the same
 * view object again and its JSON is written once (listItemSerializers).
 */
const sessionViews = new WeakMap<SessionRow, { view: SessionView; profile: TemplateProfile | undefined }>();
const historyViews = new WeakMap<MessageRow, HistoryView>();

type SessionView = ReturnType<typeof buildSessionView>;
type HistoryView = ReturnType<typeof buildHistoryView>;

/** `profile`: the session's template as it applies now, whose options show where the session sets none (as the seed stored them). */
export function sessionView(
  row: SessionRow,
  liveness: { live: boolean; busy: boolean },
  profile?: TemplateProfile,
): SessionView {
  if (!Object.isFrozen(row)) return buildSessionView(row, liveness, profile);
  const kept = sessionViews.get(row);
  if (kept && kept.profile === profile && kept.view.live === liveness.live && kept.view.busy === liveness.busy)
    return kept.view;
  const view = buildSessionView(row, liveness, profile);
  Object.freeze(view.totals);
  sessionViews.set(row, { view: Object.freeze(view), profile });
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

/** A tool list as the seed shows it: comma-separated, or null when none is set. */
const toolText = (tools: unknown): string | null => (Array.isArray(tools) && tools.length > 0 ? tools.join(',') : null);

function buildSessionView(row: SessionRow, liveness: { live: boolean; busy: boolean }, profile?: TemplateProfile) {
  const set = { ...profile, ...(row.options as TemplateProfile) };
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
    // The Python seed's fields: the options as the session (or its template) sets them, and its totals.
    user_id: row.user_label ?? row.owner,
    system_prompt: set.system_prompt ?? null,
    model: set.model ?? null,
    max_turns: set.max_turns ?? null,
    // The options are stored JSON: a member the type says is set may be missing from an older row.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stored JSON, see above
    permission_mode: set.permission_mode ?? null,
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stored JSON, see above
    effort: set.effort ?? null,
    allowed_tools: toolText(set.allowed_tools),
    disallowed_tools: toolText(set.disallowed_tools),
    total_cost: row.cost_usd,
    total_turns: row.turns,
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
    cost: row.cost_usd ?? 0,
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
