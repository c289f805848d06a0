// The conversation as turns: built from stored history and grown by the events of a live stream.
export interface ToolCall {
  id: string;
  name: string;
  input: unknown;
  output?: string;
  isError?: boolean;
}

export interface Pending {
  id: string;
  kind: 'approval' | 'question';
  tool?: string;
  input?: unknown;
  rule?: string | null;
  questions?: {
    question: string;
    header?: string;
    multi_select?: boolean;
    options: { label: string; description?: string }[];
  }[];
  /** Set once answered here, so the card shows the decision. */
  answered?: string;
}

export interface Turn {
  key: string;
  user: string;
  text: string;
  tools: ToolCall[];
  pending: Pending[];
  status?: string;
  error?: { title?: string; detail?: string; status?: number } | null;
  costUsd?: number | null;
  durationMs?: number | null;
  model?: string | null;
  running: boolean;
}

export interface HistoryItem {
  id: number | string;
  turn_id: string;
  role: 'user' | 'assistant';
  content: string;
  status: string | null;
  tools_used: { name: string; input: unknown; denied?: string }[] | null;
  cost_usd: number | null;
  duration_ms: number | null;
  model: string | null;
  error: Turn['error'];
}

/** Pairs each turn's user and assistant messages. */
export function turnsOfHistory(items: HistoryItem[]): Turn[] {
  const byTurn = new Map<string, Turn>();
  for (const m of items) {
    let t = byTurn.get(m.turn_id);
    if (!t) {
      t = { key: m.turn_id, user: '', text: '', tools: [], pending: [], running: false };
      byTurn.set(m.turn_id, t);
    }
    if (m.role === 'user') t.user = m.content;
    else {
      t.text = m.content;
      t.status = m.status ?? undefined;
      t.error = m.error;
      t.costUsd = m.cost_usd;
      t.durationMs = m.duration_ms;
      t.model = m.model;
      t.tools = (m.tools_used ?? []).map((u, i) => ({
        id: `${m.turn_id}-${i}`,
        name: u.name,
        input: u.input,
        ...(u.denied ? { output: `Denied: ${u.denied}`, isError: true } : {}),
      }));
    }
  }
  return [...byTurn.values()];
}

/** A turn with one stream event applied (a new object, for rendering). */
export function applyEvent(turn: Turn, event: string, data: any): Turn {
  switch (event) {
    case 'text':
      return { ...turn, text: turn.text + String(data.text ?? '') };
    case 'tool_use':
      return { ...turn, tools: [...turn.tools, { id: data.id, name: data.name, input: data.input }] };
    case 'tool_result':
      return {
        ...turn,
        tools: turn.tools.map((t) =>
          t.id === data.id ? { ...t, output: String(data.output ?? ''), isError: !!data.is_error } : t,
        ),
      };
    case 'approval':
      return {
        ...turn,
        pending: [
          ...turn.pending,
          { id: data.id, kind: 'approval', tool: data.tool, input: data.input, rule: data.rule },
        ],
      };
    case 'question':
      return { ...turn, pending: [...turn.pending, { id: data.id, kind: 'question', questions: data.questions }] };
    case 'decision':
      // Settled here, in another tab, by another key, or expired: the card shows how.
      return {
        ...turn,
        pending: turn.pending.map((p) =>
          p.id === data.id ? { ...p, answered: p.answered ?? String(data.status ?? 'settled') } : p,
        ),
      };
    case 'result':
      return {
        ...turn,
        running: false,
        text: turn.text || String(data.content ?? ''),
        status: data.status,
        costUsd: data.cost_usd,
        durationMs: data.duration_ms,
        model: data.model,
      };
    case 'error':
      return { ...turn, running: false, status: 'error', error: data.problem ?? data };
    default:
      return turn;
  }
}
