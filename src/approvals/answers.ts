// What a person's answer to a paused tool call becomes: allow (maybe with a changed input), deny with a message, or a question's answers; a bad answer is a 422 naming its field.
import { ProblemError } from '../problems.js';
import type { ApprovalRow } from '../store/schema.js';
import { questionsOf } from './person-events.js';

/** What resumes a paused call: allow (maybe with a changed input, or a question's answers) or deny with a message for the model. */
export type PauseAnswer =
  | { decision: 'allow'; updatedInput?: Record<string, unknown>; answers?: Record<string, string> }
  | { decision: 'deny'; message: string };

/** A person's answer as the API takes it. */
export interface AnswerInput {
  decision?: 'allow' | 'deny';
  message?: string;
  updated_input?: Record<string, unknown>;
  remember?: 'session' | 'key';
  answers?: Record<string, string | string[]>;
}

function invalid(pointer: string, message: string): ProblemError {
  return new ProblemError(422, 'validation-failed', 'Validation failed', message, {
    errors: [{ location: 'body', pointer, message }],
  });
}

export function alreadySettled(row: ApprovalRow): ProblemError {
  return new ProblemError(
    409,
    'already-decided',
    'Already decided',
    `This ${row.kind} is no longer pending (${row.status}${row.reason ? `: ${row.reason}` : ''}).`,
    { approval_status: row.status },
  );
}

export function approvalAnswer(row: ApprovalRow, input: AnswerInput): PauseAnswer {
  if (input.decision === undefined) throw invalid('/decision', 'decision is required: allow or deny');
  if (input.answers !== undefined) throw invalid('/answers', 'answers belong to questions, not approvals');
  if (input.decision === 'deny') {
    if (input.updated_input !== undefined)
      throw invalid('/updated_input', 'updated_input only goes with decision allow');
    return {
      decision: 'deny',
      message: input.message?.trim() || `A person denied this ${row.tool} call.`,
    };
  }
  return input.updated_input === undefined
    ? { decision: 'allow' }
    : { decision: 'allow', updatedInput: input.updated_input };
}

/** A question's answers: every question answered with a label (or the person's own text); arrays join as the CLI does. */
export function questionAnswer(row: ApprovalRow, input: AnswerInput): PauseAnswer {
  if (input.decision === 'deny')
    return { decision: 'deny', message: input.message?.trim() || 'The user declined to answer.' };
  if (input.remember !== undefined || input.updated_input !== undefined)
    throw invalid(input.remember !== undefined ? '/remember' : '/updated_input', 'questions take answers only');
  const given = input.answers;
  if (!given || typeof given !== 'object') throw invalid('/answers', 'answers is required: {"<question>": "<label>"}');
  const asked = questionsOf(row.input).map((q) => q.question);
  const out: Record<string, string> = {};
  for (const [question, value] of Object.entries(given)) {
    if (!asked.includes(question))
      throw invalid(
        `/answers`,
        `${JSON.stringify(question)} is not one of the questions asked (${asked.map((q) => JSON.stringify(q)).join(', ')})`,
      );
    const text = (Array.isArray(value) ? value : [value]).map((v) => v.trim()).filter((v) => v !== '');
    if (text.length === 0) throw invalid('/answers', `the answer to ${JSON.stringify(question)} is empty`);
    out[question] = text.join(', ');
  }
  const missing = asked.filter((q) => !(q in out));
  if (missing.length > 0) throw invalid('/answers', `unanswered: ${missing.map((q) => JSON.stringify(q)).join(', ')}`);
  return { decision: 'allow', answers: out };
}
