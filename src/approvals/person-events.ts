// The events a paused tool call shows on its turn's stream: an approval, or the questions of an AskUserQuestion call,
// and the decision that settles either.
import type { ApprovalEvent, DecisionEvent, PersonEvent, QuestionEvent } from '../engine/events.js';
import type { ApprovalRow } from '../store/schema.js';

/** The event that tells a turn's stream how one of its pauses was settled. */
export function decisionOf(row: ApprovalRow): DecisionEvent {
  const message = typeof row.response?.message === 'string' ? row.response.message : null;
  return {
    type: 'decision',
    id: row.id,
    kind: row.kind,
    status: row.status as DecisionEvent['status'],
    decided_by: row.decided_by,
    reason: row.status === 'expired' ? row.reason : row.status === 'denied' ? message : null,
  };
}

/** The event a paused call shows on its turn's stream. */
export function eventOf(row: ApprovalRow): PersonEvent {
  const base = {
    id: row.id,
    session: row.session_name,
    turn_id: row.turn_id,
    tool_use_id: row.tool_use_id,
    deadline: row.deadline,
  };
  if (row.kind === 'question') {
    const event: QuestionEvent = { type: 'question', ...base, questions: questionsOf(row.input) };
    return event;
  }
  const event: ApprovalEvent = { type: 'approval', ...base, tool: row.tool, input: row.input, rule: row.rule };
  return event;
}

/** A field of the model's AskUserQuestion input as text: a string as it is, anything else as String() shows it. */
// eslint-disable-next-line @typescript-eslint/no-base-to-string -- the model's input, shown as it came
const textOf = (value: unknown): string => String(value ?? '');

/** The questions of an AskUserQuestion input, as the `question` event shows them. */
export function questionsOf(input: unknown): QuestionEvent['questions'] {
  const list = (input as { questions?: unknown } | null)?.questions;
  if (!Array.isArray(list)) return [];
  return list.map((q: Record<string, unknown>) => ({
    question: textOf(q.question),
    header: textOf(q.header),
    multi_select: q.multiSelect === true,
    options: (Array.isArray(q.options) ? q.options : []).map((o: Record<string, unknown>) => ({
      label: textOf(o.label),
      description: textOf(o.description),
    })),
  }));
}
