// The conversation as turns: built from stored history and grown by the events of a live stream.
import type { Problem } from './api';

export interface ToolCall {
  id: string;
  name: string;
  input: unknown;
  output?: string;
  isError?: boolean;
  /** The history kept only part of the output (docs/api.md, tools_used). */
  truncated?: boolean;
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
  error?: Problem | null;
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
  tools_used:
    | { name: string; input: unknown; denied?: string; output?: string; is_error?: boolean; truncated?: boolean }[]
    | null;
  cost_usd: number | null;
  duration_ms: number | null;
  model: string | null;
  error: Turn['error'];
}

/** A stored call's result: its kept output, else its denial; none for rows written before outputs were kept. */
function outputOf(
  u: NonNullable<HistoryItem['tools_used']>[number],
): Pick<ToolCall, 'output' | 'isError' | 'truncated'> {
  if (u.output !== undefined) {
    return {
      output: u.output,
      isError: u.is_error === true || !!u.denied,
      ...(u.truncated ? { truncated: true } : {}),
    };
  }
  return u.denied ? { output: `Denied: ${u.denied}`, isError: true } : {};
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
        ...outputOf(u),
      }));
    }
  }
  return [...byTurn.values()];
}

/** The fields of a turn's stream events the console reads (docs/api.md); each event type carries some of them. */
interface EventData {
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  output?: string;
  is_error?: boolean;
  tool?: string;
  rule?: string | null;
  questions?: Pending['questions'];
  content?: string;
  /** A result's status (`ok`, `error` …), or a problem's HTTP status. */
  status?: string | number;
  type?: string;
  title?: string;
  detail?: string;
  errors?: Problem['errors'];
  cost_usd?: number | null;
  duration_ms?: number | null;
  model?: string | null;
  problem?: Turn['error'];
}

/** An error event without a `problem` field is the problem itself. */
function problemOf(data: EventData): Problem {
  const { type, title, detail, errors } = data;
  return { type, title, detail, errors, status: typeof data.status === 'number' ? data.status : undefined };
}

/** A turn with one stream event applied (a new object, for rendering). */
export function applyEvent(turn: Turn, event: string, payload: unknown): Turn {
  // The server's events are JSON objects of the documented shapes; anything else carries none of the fields.
  const data: EventData = typeof payload === 'object' && payload !== null ? payload : {};
  switch (event) {
    case 'text':
      return { ...turn, text: turn.text + (data.text ?? '') };
    case 'tool_use':
      return { ...turn, tools: [...turn.tools, { id: data.id ?? '', name: data.name ?? '', input: data.input }] };
    case 'tool_result':
      return {
        ...turn,
        tools: turn.tools.map((t) =>
          t.id === data.id ? { ...t, output: data.output ?? '', isError: !!data.is_error } : t,
        ),
      };
    case 'approval':
      return {
        ...turn,
        pending: [
          ...turn.pending,
          { id: data.id ?? '', kind: 'approval', tool: data.tool, input: data.input, rule: data.rule },
        ],
      };
    case 'question':
      return {
        ...turn,
        pending: [...turn.pending, { id: data.id ?? '', kind: 'question', questions: data.questions }],
      };
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
        text: turn.text || (data.content ?? ''),
        status: typeof data.status === 'string' ? data.status : undefined,
        costUsd: data.cost_usd,
        durationMs: data.duration_ms,
        model: data.model,
      };
    case 'error':
      return { ...turn, running: false, status: 'error', error: data.problem ?? problemOf(data) };
    default:
      return turn;
  }
}
