// What a compatible answer carries from the turn: its tool steps (extension field and readable text), usage and stop reason.
import type { TurnEvent, TurnResult } from '../../engine/events.js';
import type { ConversationTurn } from '../../sessions/conversations.js';

/** One tool call Claude Code made in the turn, with its outcome. */
export interface Step {
  id: string;
  name: string;
  input: unknown;
  output?: string;
  is_error?: boolean;
}

/** Collects the tool steps of a turn from its events. */
export class StepLog {
  readonly steps: Step[] = [];

  /** Adds the event if it is a step; returns the step's readable line(s), or undefined. */
  add(event: TurnEvent): string | undefined {
    if (event.type === 'tool_use') {
      const step: Step = { id: event.id, name: event.name, input: event.input };
      this.steps.push(step);
      return `[${event.name}] ${clip(JSON.stringify(event.input ?? {}), 300)}\n`;
    }
    if (event.type === 'tool_result') {
      const step = this.steps.find((s) => s.id === event.id);
      if (step) Object.assign(step, { output: event.output, is_error: event.is_error });
      return `${event.is_error ? '[error]' : '[result]'} ${clip(event.output, 300)}\n\n`;
    }
    return undefined;
  }
}

function clip(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

/** The documented extension field `x_claude_code` of both formats. */
export function extension(conv: ConversationTurn, result: TurnResult | undefined, steps: Step[]) {
  return {
    session: conv.session.name,
    session_created: conv.created,
    session_continued: conv.continued,
    turn_id: conv.chat.turn.id,
    claude_session_id: result?.session_id ?? null,
    cost_usd: result?.cost_usd ?? 0,
    duration_ms: result?.duration_ms ?? 0,
    num_turns: result?.num_turns ?? 0,
    steps,
    denials: result?.denials ?? [],
  };
}

export function openAiUsage(r: TurnResult) {
  const prompt = r.usage.input_tokens + r.usage.cache_read_input_tokens + r.usage.cache_creation_input_tokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: r.usage.output_tokens,
    total_tokens: prompt + r.usage.output_tokens,
    prompt_tokens_details: { cached_tokens: r.usage.cache_read_input_tokens },
  };
}

export function anthropicUsage(r: TurnResult | undefined) {
  return {
    input_tokens: r?.usage.input_tokens ?? 0,
    output_tokens: r?.usage.output_tokens ?? 0,
    cache_creation_input_tokens: r?.usage.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: r?.usage.cache_read_input_tokens ?? 0,
  };
}

export function openAiFinish(r: TurnResult): 'stop' | 'length' {
  return r.stop_reason === 'max_tokens' ? 'length' : 'stop';
}

export function anthropicStop(r: TurnResult, stopSequence?: string): 'end_turn' | 'max_tokens' | 'stop_sequence' {
  if (stopSequence !== undefined) return 'stop_sequence';
  return r.stop_reason === 'max_tokens' ? 'max_tokens' : 'end_turn';
}
