// The normalized events of one turn and what streams them, shared by SSE, sync chat, history, jobs and webhooks.
import type { ProblemDoc } from '../problems.js';

export interface ToolUse {
  name: string;
  input: unknown;
  /** Why the call was refused (workspace policy, disallowed tool …); absent when it ran. */
  denied?: string;
}

export interface TurnUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export interface TurnResult {
  turn_id: string;
  session_id: string;
  status: 'ok' | 'error' | 'interrupted' | 'timeout';
  content: string;
  cost_usd: number;
  usage: TurnUsage;
  duration_ms: number;
  num_turns: number;
  tools_used: ToolUse[];
  stop_reason: string | null;
  model: string | null;
  /** Tool calls the policy refused in this turn (path outside the workspace, tool not allowed …). */
  denials?: Array<{ tool: string; input: unknown; reason: string }>;
}

/** A tool call paused for a person's yes or no (its outcome under the permission rules is `ask`). */
export interface ApprovalEvent {
  type: 'approval';
  id: string;
  session: string;
  turn_id: string;
  tool: string;
  input: unknown;
  tool_use_id: string | null;
  /** The ask rule that paused it. */
  rule: string | null;
  /** When it is denied if nobody answers (ISO-8601). */
  deadline: string;
}

/** Claude Code's AskUserQuestion, waiting for a person's choice. */
export interface QuestionEvent {
  type: 'question';
  id: string;
  session: string;
  turn_id: string;
  tool_use_id: string | null;
  questions: Array<{
    question: string;
    header: string;
    multi_select: boolean;
    options: Array<{ label: string; description: string }>;
  }>;
  deadline: string;
}

/** The events that wait for a person: a turn that emits one is paused until it is answered or expires. */
export const PERSON_EVENTS = ['approval', 'question'] as const;
export type PersonEvent = ApprovalEvent | QuestionEvent;

export function isPersonEvent(event: TurnEvent): event is PersonEvent {
  return (PERSON_EVENTS as readonly string[]).includes(event.type);
}

export type TurnEvent =
  | { type: 'session'; session_id: string; model: string; tools: string[]; cwd: string; permission_mode: string }
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; id: string; is_error: boolean; output: string }
  | ApprovalEvent
  | QuestionEvent
  | ({ type: 'result' } & TurnResult)
  | { type: 'error'; problem: ProblemDoc };

/** An event as it leaves the turn: numbered, so a client can resume after any id. */
export interface NumberedEvent {
  id: number;
  event: TurnEvent;
}

/** What can be streamed: a Turn, or anything that numbers and replays events the same way (e.g. a job's stored events). */
export interface EventStream {
  /** Sent as X-Turn-ID when known. */
  readonly id?: string;
  readonly finished: boolean;
  events(afterId: number, signal?: AbortSignal): AsyncIterable<NumberedEvent>;
}

export const EMPTY_USAGE: TurnUsage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
};
