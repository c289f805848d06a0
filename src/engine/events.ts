// The normalized events of one turn as TypeBox schemas (JSON Schema), the one definition SSE, sync chat, history, jobs,
// webhooks and the OpenAPI document derive from (the TypeScript types are their Static<> forms), and what streams them.
import { Type, type Static, type TSchema } from 'typebox';

/** The most of one tool call's output a turn's result keeps (characters); the rest is cut and flagged `truncated`. */
export const TOOL_OUTPUT_KEPT_CHARS = 16_384;
/** The most of all its tool calls' outputs one turn's result keeps (characters), so a turn of many calls stays small. */
export const TURN_TOOL_OUTPUTS_KEPT_CHARS = 262_144;

export const ToolUseSchema = Type.Object(
  {
    name: Type.String(),
    input: Type.Unknown(),
    denied: Type.Optional(
      Type.String({
        description: 'Why the call was refused (workspace policy, tool not allowed …); absent when it ran.',
      }),
    ),
    output: Type.Optional(
      Type.String({
        description:
          `What the tool returned (the text of its tool_result): at most ${TOOL_OUTPUT_KEPT_CHARS} characters of one call, ` +
          `${TURN_TOOL_OUTPUTS_KEPT_CHARS} of all the calls of a turn (a call past that keeps an empty output). ` +
          'Absent when the call got no result, and in turns recorded before outputs were kept.',
      }),
    ),
    is_error: Type.Optional(
      Type.Boolean({
        description: 'Whether the tool reported an error (a refused call is one); present exactly when `output` is.',
      }),
    ),
    truncated: Type.Optional(
      Type.Literal(true, {
        description:
          '`output` was cut: longer than a call may keep, or the turn had kept all it may; absent when whole.',
      }),
    ),
  },
  { title: 'ToolUse' },
);
export type ToolUse = Static<typeof ToolUseSchema>;

export const TurnUsageSchema = Type.Object(
  {
    input_tokens: Type.Integer(),
    output_tokens: Type.Integer(),
    cache_read_input_tokens: Type.Integer(),
    cache_creation_input_tokens: Type.Integer(),
  },
  { title: 'TurnUsage' },
);
export type TurnUsage = Static<typeof TurnUsageSchema>;

/** A refused tool call of a turn (docs/security.md). */
export const DenialSchema = Type.Object(
  {
    tool: Type.String(),
    input: Type.Unknown(),
    reason: Type.String({ description: 'What the model was told.' }),
  },
  { title: 'Denial' },
);

/** The fields of a turn's result, shared by the result event, the sync chat answer and a job's result. */
export const TurnResultFields = {
  turn_id: Type.String(),
  session_id: Type.String({ description: 'The Claude Code session id.' }),
  status: Type.Union([Type.Literal('ok'), Type.Literal('error'), Type.Literal('interrupted'), Type.Literal('timeout')]),
  content: Type.String(),
  cost_usd: Type.Number(),
  duration_ms: Type.Integer(),
  num_turns: Type.Integer(),
  usage: TurnUsageSchema,
  tools_used: Type.Array(ToolUseSchema),
  stop_reason: Type.Union([Type.String(), Type.Null()]),
  model: Type.Union([Type.String(), Type.Null()]),
  denials: Type.Optional(
    Type.Array(DenialSchema, {
      description: 'Tool calls refused in this turn (also marked `denied` in tools_used).',
    }),
  ),
  structured_output: Type.Optional(
    Type.Unknown({
      description:
        "With `output_format`: the answer as data matching its JSON schema (Claude Code's structured output).",
    }),
  ),
};
export const TurnResultSchema = Type.Object(TurnResultFields, { title: 'TurnResult' });
export type TurnResult = Static<typeof TurnResultSchema>;

/** An RFC 9457 problem document as a turn reports it (extra members allowed). */
export const TurnProblemSchema = Type.Object(
  { type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String() },
  { title: 'TurnProblem', additionalProperties: true },
);

/** The typed event object `{ type: <name>, ...fields }` of one event type. */
function eventOf<N extends string, F extends Record<string, TSchema>>(name: N, fields: F, description: string) {
  return Type.Object({ type: Type.Literal(name), ...fields }, { title: `${name} event`, description });
}

export const SessionEventSchema = eventOf(
  'session',
  {
    session_id: Type.String(),
    model: Type.String(),
    tools: Type.Array(Type.String()),
    cwd: Type.String(),
    permission_mode: Type.String(),
  },
  'Claude Code started the turn: its session id, model, tools, working directory and permission mode.',
);

export const TextEventSchema = eventOf('text', { text: Type.String() }, 'A delta of the answer text.');

export const ToolUseEventSchema = eventOf(
  'tool_use',
  { id: Type.String(), name: Type.String(), input: Type.Unknown() },
  'Claude calls a tool.',
);

export const ToolResultEventSchema = eventOf(
  'tool_result',
  { id: Type.String(), is_error: Type.Boolean(), output: Type.String() },
  "A tool call's output (`id` is its tool_use id).",
);
export type ToolUseEvent = Static<typeof ToolUseEventSchema>;
export type ToolResultEvent = Static<typeof ToolResultEventSchema>;

/** A tool call paused for a person's yes or no (its outcome under the permission rules is `ask`). */
export const ApprovalEventSchema = eventOf(
  'approval',
  {
    id: Type.String(),
    session: Type.String(),
    turn_id: Type.String(),
    tool: Type.String(),
    input: Type.Unknown(),
    tool_use_id: Type.Union([Type.String(), Type.Null()]),
    rule: Type.Union([Type.String(), Type.Null()], { description: 'The ask rule that paused it.' }),
    deadline: Type.String({ description: 'When it is denied if nobody answers (ISO-8601).' }),
  },
  "A tool call waits for a person's yes or no (POST …/approvals/{id}).",
);
export type ApprovalEvent = Static<typeof ApprovalEventSchema>;

export const QuestionSchema = Type.Object({
  question: Type.String(),
  header: Type.String(),
  multi_select: Type.Boolean(),
  options: Type.Array(Type.Object({ label: Type.String(), description: Type.String() })),
});

/** Claude Code's AskUserQuestion, waiting for a person's choice. */
export const QuestionEventSchema = eventOf(
  'question',
  {
    id: Type.String(),
    session: Type.String(),
    turn_id: Type.String(),
    tool_use_id: Type.Union([Type.String(), Type.Null()]),
    questions: Type.Array(QuestionSchema),
    deadline: Type.String(),
  },
  "Claude Code's AskUserQuestion waits for a person's choice (POST …/questions/{id}).",
);
export type QuestionEvent = Static<typeof QuestionEventSchema>;

/** A paused call was settled: a person answered it, or nobody did in time. */
export const DecisionEventSchema = eventOf(
  'decision',
  {
    id: Type.String({ description: 'The approval or question it settles.' }),
    kind: Type.Union([Type.Literal('approval'), Type.Literal('question')]),
    status: Type.Union([
      Type.Literal('allowed'),
      Type.Literal('denied'),
      Type.Literal('answered'),
      Type.Literal('expired'),
    ]),
    decided_by: Type.Union([Type.String(), Type.Null()], {
      description: 'The id of the API key that answered; null when it expired.',
    }),
    reason: Type.Union([Type.String(), Type.Null()], { description: 'Why it expired, or the denial message given.' }),
  },
  'An `approval` or `question` of this turn was settled (answered, or expired after APPROVAL_TIMEOUT_SECONDS); the turn goes on.',
);
export type DecisionEvent = Static<typeof DecisionEventSchema>;

export const ResultEventSchema = eventOf('result', TurnResultFields, 'The turn ended: its result (the last event).');

export const ErrorEventSchema = eventOf(
  'error',
  {
    problem: TurnProblemSchema,
    error: Type.Optional(
      Type.String({
        description: "The problem's detail, as the Python seed's `error` event carried it (on chat streams).",
      }),
    ),
  },
  'The turn failed: a problem document (the last event).',
);

/** Every event type of a turn, in the order a turn may send them. */
export const TURN_EVENT_SCHEMAS = [
  SessionEventSchema,
  TextEventSchema,
  ToolUseEventSchema,
  ToolResultEventSchema,
  ApprovalEventSchema,
  QuestionEventSchema,
  DecisionEventSchema,
  ResultEventSchema,
  ErrorEventSchema,
] as const;

export const TurnEventSchema = Type.Union([...TURN_EVENT_SCHEMAS], { title: 'TurnEvent' });
export type TurnEvent = Static<typeof TurnEventSchema>;

/** The events that wait for a person: a turn that emits one is paused until it is answered or expires. */
export const PERSON_EVENTS = ['approval', 'question'] as const;
export type PersonEvent = ApprovalEvent | QuestionEvent;

export function isPersonEvent(event: TurnEvent): event is PersonEvent {
  return (PERSON_EVENTS as readonly string[]).includes(event.type);
}

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
