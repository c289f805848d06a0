// What a running turn makes of Claude Code's SDK messages: the events a client sees, the tools and denials it records, and the result that ends it.
import type { SDKMessage, SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { EngineError } from './errors.js';
import {
  EMPTY_USAGE,
  TOOL_OUTPUT_KEPT_CHARS,
  TURN_TOOL_OUTPUTS_KEPT_CHARS,
  type ToolUse,
  type TurnResult,
  type TurnUsage,
} from './events.js';
import type { Turn } from './turn.js';
import type { ToolDenial } from './workspace-guard.js';

const TOOL_OUTPUT_CHARS = 2_000;

/** What the runner keeps of the turn it is running while the process's messages come in. */
export interface ActiveTurn {
  turn: Turn;
  startedAt: number;
  tools: ToolUse[];
  textParts: string[];
  model: string | null;
  sessionSent: boolean;
  apiError: string | undefined;
  /** Tool uses by id, so a denial or a result can be marked on its call. */
  toolsById: Map<string, ToolUse>;
  /** Error tool results by tool use id (the text the model got). */
  toolErrors: Map<string, string>;
  denials: ToolDenial[];
  /** Characters of tool output kept in `tools` so far (bounded by TURN_TOOL_OUTPUTS_KEPT_CHARS). */
  outputChars: number;
}

export function activeTurn(turn: Turn): ActiveTurn {
  return {
    turn,
    startedAt: Date.now(),
    tools: [],
    textParts: [],
    model: null,
    sessionSent: false,
    apiError: undefined,
    toolsById: new Map(),
    toolErrors: new Map(),
    denials: [],
    outputChars: 0,
  };
}

/** A message of the running turn other than its result: streamed text, tool uses and tool results become events. */
export function recordMessage(a: ActiveTurn, m: Exclude<SDKMessage, SDKResultMessage>): void {
  switch (m.type) {
    case 'stream_event': {
      const e = m.event;
      if (m.parent_tool_use_id === null && e.type === 'content_block_delta' && e.delta.type === 'text_delta') {
        a.turn.emit({ type: 'text', text: e.delta.text });
      }
      return;
    }
    case 'assistant': {
      if (m.parent_tool_use_id !== null) return;
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a CLI message may leave the model out
      a.model = m.message.model ?? a.model;
      if (m.error) a.apiError = m.error;
      for (const block of m.message.content) {
        if (block.type === 'tool_use') {
          const use: ToolUse = { name: block.name, input: block.input };
          a.tools.push(use);
          a.toolsById.set(block.id, use);
          a.turn.emit({ type: 'tool_use', id: block.id, name: block.name, input: block.input });
        } else if (block.type === 'text') {
          a.textParts.push(block.text);
        }
      }
      return;
    }
    case 'user': {
      if (m.parent_tool_use_id !== null || typeof m.message.content === 'string') return;
      for (const block of m.message.content) {
        if (block.type === 'tool_result') {
          const text = toolText(block.content);
          const output = eventOutput(text);
          const isError = block.is_error === true;
          if (isError) a.toolErrors.set(block.tool_use_id, output);
          const use = a.toolsById.get(block.tool_use_id);
          if (use) keepOutput(a, use, text, isError);
          a.turn.emit({ type: 'tool_result', id: block.tool_use_id, is_error: isError, output });
        }
      }
      return;
    }
    default:
      return;
  }
}

/** What the turn's result message says, with what the runner knows besides (session id, the turn's cost, the model). */
export function resultOf(
  a: ActiveTurn,
  m: SDKResultMessage,
  known: { sessionId: string; costUsd: number; model: string | null },
): TurnResult {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- an error result may come without denials
  const denials = denialsOf(a, m.permission_denials ?? []);
  return {
    turn_id: a.turn.id,
    session_id: known.sessionId,
    status: 'ok',
    content: m.subtype === 'success' ? m.result : a.textParts.join('\n'),
    cost_usd: known.costUsd,
    usage: usageOf(m.usage),
    duration_ms: Date.now() - a.startedAt,
    num_turns: m.num_turns,
    tools_used: a.tools,
    stop_reason: m.stop_reason,
    model: known.model,
    ...(denials.length > 0 ? { denials } : {}),
    ...(m.subtype === 'success' && m.structured_output !== undefined ? { structured_output: m.structured_output } : {}),
  };
}

/** Ends the turn with its result, or fails it when an interrupt, a limit or an API error ended it. */
export function settleTurn(
  turn: Turn,
  m: SDKResultMessage,
  result: TurnResult,
  apiError: string | undefined,
  stallMs: number,
): void {
  if (turn.interruptRequested === 'timeout') {
    result.status = 'timeout';
    turn.fail(new EngineError('timeout', 'The turn ran past the time limit and was interrupted.'));
  } else if (turn.interruptRequested === 'stalled') {
    result.status = 'error';
    turn.fail(stalledError(stallMs));
  } else if (turn.interruptRequested === 'client') {
    result.status = 'interrupted';
    result.stop_reason = 'interrupted';
    turn.finish(result);
  } else if (m.subtype === 'error_max_turns') {
    result.stop_reason = 'max_turns';
    turn.finish(result);
  } else if (m.subtype === 'error_max_budget_usd') {
    result.status = 'error';
    turn.fail(new EngineError('budget_exceeded', 'The turn reached its cost limit and was stopped.'));
  } else if (m.is_error) {
    result.status = 'error';
    const detail =
      (m.subtype === 'success' ? m.result : m.errors.join('; ')) || apiError || 'Claude Code reported an error.';
    const upstream = m.subtype === 'success' ? (m.api_error_status ?? undefined) : undefined;
    turn.fail(new EngineError('api_error', detail, upstream === undefined ? {} : { upstreamStatus: upstream }));
  } else {
    turn.finish(result);
  }
}

export function stalledError(stallMs: number): EngineError {
  return new EngineError(
    'stalled',
    `Claude Code sent nothing for ${stallMs / 1000} s (TURN_STALL_SECONDS), so the turn was stopped. The next turn resumes the conversation.`,
  );
}

/** What the CLI puts before a hook's reason in the error tool result the model gets. */
const HOOK_PREFIX = /^PreToolUse:\S+ hook error: /;

/** The turn's denials: the guard's, then any other the CLI reports (disallowed tools, permission mode), each marked on its tool use. */
function denialsOf(
  a: ActiveTurn,
  reported: ReadonlyArray<{ tool_name: string; tool_use_id: string; tool_input: Record<string, unknown> }>,
): NonNullable<TurnResult['denials']> {
  const all = [...a.denials];
  for (const r of reported) {
    if (all.some((d) => d.tool_use_id === r.tool_use_id)) continue;
    const text = a.toolErrors.get(r.tool_use_id)?.replace(HOOK_PREFIX, '');
    all.push({
      tool: r.tool_name,
      input: r.tool_input,
      reason: text || "Claude Code's permission settings refused this call.",
      tool_use_id: r.tool_use_id,
    });
  }
  for (const d of all) {
    const use = d.tool_use_id === undefined ? undefined : a.toolsById.get(d.tool_use_id);
    if (use) use.denied = d.reason;
  }
  return all.map((d) => ({ tool: d.tool, input: d.input, reason: d.reason }));
}

function usageOf(u: Partial<Record<keyof TurnUsage, number | null>> | undefined): TurnUsage {
  if (!u) return { ...EMPTY_USAGE };
  return {
    input_tokens: u.input_tokens ?? 0,
    output_tokens: u.output_tokens ?? 0,
    cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
  };
}

/** The text of a tool result's content (other blocks, such as images, as `[type]`). */
function toolText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((c: { type?: string; text?: string }) =>
        c.type === 'text' && typeof c.text === 'string' ? c.text : `[${c.type ?? 'content'}]`,
      )
      .join('\n');
  }
  return content === undefined ? '' : JSON.stringify(content);
}

/** A tool_result event's output: the first TOOL_OUTPUT_CHARS, then the full length. */
function eventOutput(text: string): string {
  return text.length > TOOL_OUTPUT_CHARS ? `${text.slice(0, TOOL_OUTPUT_CHARS)}… (${text.length} characters)` : text;
}

/**
 * Marks a tool call with its output as the turn's result keeps it: at most TOOL_OUTPUT_KEPT_CHARS of the call, and no
 * more than what is left of the turn's TURN_TOOL_OUTPUTS_KEPT_CHARS; a cut output is flagged `truncated`.
 */
function keepOutput(a: ActiveTurn, use: ToolUse, text: string, isError: boolean): void {
  a.outputChars -= use.output?.length ?? 0;
  const room = Math.max(0, Math.min(TOOL_OUTPUT_KEPT_CHARS, TURN_TOOL_OUTPUTS_KEPT_CHARS - a.outputChars));
  const kept = text.length > room ? cutAt(text, room) : text;
  a.outputChars += kept.length;
  use.output = kept;
  use.is_error = isError;
  if (kept.length < text.length) use.truncated = true;
  else delete use.truncated;
}

/** The first `n` UTF-16 units of `text`, one fewer when the cut would split a surrogate pair. */
function cutAt(text: string, n: number): string {
  const code = text.charCodeAt(n - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? n - 1 : n);
}
