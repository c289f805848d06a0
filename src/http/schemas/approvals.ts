// TypeBox schemas of approvals and questions: answers, the pending item, stored rules and the 202 of a paused sync chat.
import { Type, type Static } from 'typebox';
import { PermissionRulesSchema } from './permission-rules.js';
import { SESSION_NAME_PATTERN } from './sessions.js';

export const ApprovalParams = Type.Object({
  name: Type.String({ pattern: SESSION_NAME_PATTERN, description: 'Session name.' }),
  // Any other id is unknown (404), like an id of another session or tenant.
  id: Type.String({ minLength: 1, maxLength: 100, description: 'Approval or question id (`apr_…`).' }),
});

export const ApprovalAnswerBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('allow'), Type.Literal('deny')]),
    message: Type.Optional(
      Type.String({ maxLength: 10_000, description: 'With deny: what the model is told (a default otherwise).' }),
    ),
    updated_input: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description: 'With allow: the tool input that runs instead (checked by the workspace policy like any call).',
        },
      ),
    ),
    remember: Type.Optional(
      Type.Union([Type.Literal('session'), Type.Literal('key')], {
        description:
          'Store this answer as a rule naming exactly this call (e.g. `Bash(npm test)`) for the session or for the key, so the same call is not asked again.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ApprovalAnswerBody = Static<typeof ApprovalAnswerBody>;

export const QuestionAnswerBody = Type.Object(
  {
    answers: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Union([
          Type.String({ minLength: 1, maxLength: 10_000 }),
          Type.Array(Type.String({ minLength: 1, maxLength: 10_000 }), { minItems: 1, maxItems: 10 }),
        ]),
        {
          description:
            'Each question text → the chosen option label (a list for multi-select), or your own words; every question must be answered.',
        },
      ),
    ),
    decision: Type.Optional(
      Type.Literal('deny', { description: 'Decline to answer: the model is told so (`message`, or a default).' }),
    ),
    message: Type.Optional(Type.String({ maxLength: 10_000 })),
  },
  { additionalProperties: false },
);
export type QuestionAnswerBody = Static<typeof QuestionAnswerBody>;

export const ApprovalSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('approval'), Type.Literal('question')]),
  session: Type.String({ description: 'Session name.' }),
  owner: Type.String({
    description: "The tenant that owns the session (an admin answers another tenant's approval with this as X-Tenant).",
  }),
  turn_id: Type.String(),
  job_id: Type.Union([Type.String(), Type.Null()]),
  tool: Type.String(),
  tool_use_id: Type.Union([Type.String(), Type.Null()]),
  input: Type.Unknown({ description: "The tool's input (a question's `questions`)." }),
  rule: Type.Union([Type.String(), Type.Null()], { description: 'The ask rule that paused the call.' }),
  status: Type.Union(
    [
      Type.Literal('pending'),
      Type.Literal('allowed'),
      Type.Literal('denied'),
      Type.Literal('answered'),
      Type.Literal('expired'),
    ],
    { description: 'pending → allowed | denied | answered | expired' },
  ),
  reason: Type.Union([Type.String(), Type.Null()], { description: 'Why it expired.' }),
  response: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  decided_by: Type.Union([Type.String(), Type.Null()], { description: 'The id of the key that answered.' }),
  deadline: Type.String(),
  created_at: Type.String(),
  decided_at: Type.Union([Type.String(), Type.Null()]),
});

export const RulesView = Type.Object({
  rules: PermissionRulesSchema,
  remembered: Type.Object(
    { allow: Type.Optional(Type.Array(Type.String())), deny: Type.Optional(Type.Array(Type.String())) },
    { description: 'Answers people asked to remember (they settle later asks of the same call).' },
  ),
});

/** What a sync chat answers (202) when its turn waits for a person. */
export const ChatWaiting = Type.Object({
  status: Type.Literal('waiting'),
  turn_id: Type.String(),
  pending: Type.Array(ApprovalSchema),
  stream_url: Type.String({
    description: "GET it (SSE) to follow the turn from its start: the approval, then the rest after it's answered.",
  }),
  approvals_url: Type.String(),
});
