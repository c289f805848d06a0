// TypeBox schemas of sessions, chat and history: request bodies and the shapes the API returns.
import { Type, type Static, type TSchema } from 'typebox';
import { commaList } from '../../config/index.js';
import { EFFORT_LEVELS, PERMISSION_MODES } from '../../config/settings.js';
import { DenialSchema, ToolUseSchema, TurnResultFields, TurnUsageSchema } from '../../engine/events.js';
import { TEMPLATE_NAME_PATTERN } from '../../templates/schema.js';
import { PaginationQuery } from './common.js';
import { PermissionRulesSchema } from './permission-rules.js';

export const SESSION_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

const toolList = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_:*()./ -]+$' }), {
    maxItems: 100,
    description,
  });

/** A tool list as an array, or (as the Python seed takes it) one comma-separated string. */
const toolListOrText = (description: string) =>
  Type.Union(
    [
      toolList(description),
      Type.String({ maxLength: 20_000, pattern: '^[A-Za-z0-9_:*()./ ,-]*$', description: 'Comma-separated.' }),
    ],
    { description },
  );

/** Splits a comma-separated tool list; arrays and undefined pass as they are. */
export function toolsOf(value: string | string[] | undefined): string[] | undefined {
  return typeof value === 'string' ? commaList(value) : value;
}

/** Options a session or a chat request may set; each narrows what the operator allows. */
export const OptionFields = {
  model: Type.Optional(
    Type.String({ minLength: 1, maxLength: 200, description: 'Model name or alias (e.g. sonnet, opus).' }),
  ),
  effort: Type.Optional(
    Type.Union(
      EFFORT_LEVELS.map((e) => Type.Literal(e)),
      { description: 'Effort level.' },
    ),
  ),
  max_turns: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, description: 'Most agentic turns (model calls) per chat request.' }),
  ),
  allowed_tools: Type.Optional(toolList("Tools Claude may use: a subset of the operator's CLAUDE_ALLOWED_TOOLS.")),
  disallowed_tools: Type.Optional(toolList('Tools removed (added to CLAUDE_DISALLOWED_TOOLS).')),
  permission_mode: Type.Optional(
    Type.Union(
      PERMISSION_MODES.map((m) => Type.Literal(m)),
      { description: 'One of the modes in CLAUDE_ALLOWED_PERMISSION_MODES.' },
    ),
  ),
  output_format: Type.Optional(
    Type.Object(
      {
        type: Type.Literal('json_schema'),
        schema: Type.Record(Type.String(), Type.Unknown(), {
          description: 'A JSON Schema (an object) the answer must match.',
        }),
      },
      {
        additionalProperties: false,
        description:
          "Structured output, as the Python seed's `output_format`: Claude Code answers with data matching the schema, returned as `structured_output` beside `content`.",
      },
    ),
  ),
  max_budget_usd: Type.Optional(
    Type.Number({
      exclusiveMinimum: 0,
      maximum: 1_000_000,
      description:
        'Most one turn may spend, in USD; the turn stops there (429 `budget-exceeded`). At most CLAUDE_MAX_COST_PER_REQUEST when that is set.',
    }),
  ),
};

const SystemPrompt = Type.String({
  maxLength: 100_000,
  description: "Text appended to Claude Code's own system prompt.",
});

/** The Python seed's `user_id`: a label of the caller's choosing, inside its tenant. */
const UserId = Type.String({
  minLength: 1,
  maxLength: 128,
  description:
    "The Python seed's user id: a label inside the caller's tenant (never another tenant's), which `GET /sessions?user_id=` filters on; `default` (the seed's default) or none means the caller itself.",
});

export const SessionListQuery = Type.Object({
  ...PaginationQuery.properties,
  user_id: Type.Optional(UserId),
});

export const SessionNameParams = Type.Object({
  name: Type.String({ pattern: SESSION_NAME_PATTERN, description: 'Session name.' }),
});

export const CreateSessionBody = Type.Object(
  {
    name: Type.String({
      pattern: SESSION_NAME_PATTERN,
      description: 'Unique per API key: letters, digits, dot, dash, underscore; 1–64 characters.',
    }),
    working_dir: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: "Folder inside APPROVED_DIRECTORY to run in (default: the session's own workspace).",
      }),
    ),
    template: Type.Optional(
      Type.String({
        pattern: TEMPLATE_NAME_PATTERN,
        description:
          'Agent template (GET /api/v1/templates): its options apply unless set here (explicit > template > environment); unknown → 422.',
      }),
    ),
    system_prompt: Type.Optional(SystemPrompt),
    permission_rules: Type.Optional(PermissionRulesSchema),
    user_id: Type.Optional(UserId),
    ...OptionFields,
    allowed_tools: Type.Optional(
      toolListOrText(
        "Tools Claude may use: a subset of the operator's CLAUDE_ALLOWED_TOOLS (an array or a comma-separated string).",
      ),
    ),
    disallowed_tools: Type.Optional(toolListOrText('Tools removed (added to CLAUDE_DISALLOWED_TOOLS).')),
  },
  { additionalProperties: false },
);
export type CreateSessionBody = Static<typeof CreateSessionBody>;

export const RepoBody = Type.Object(
  {
    working_dir: Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'Absolute path, or relative to APPROVED_DIRECTORY.',
    }),
  },
  { additionalProperties: false },
);

export const DeleteQuery = Type.Object({
  purge: Type.Boolean({ default: false, description: "Also delete the session's workspace folder." }),
});

export const Totals = Type.Object({
  cost_usd: Type.Number(),
  turns: Type.Integer(),
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_read_tokens: Type.Integer(),
  cache_creation_tokens: Type.Integer(),
});

const nullable = <T extends TSchema>(t: T, description: string) => Type.Union([t, Type.Null()], { description });

/** The Python seed's session fields, beside ours: the options as the session or its template sets them, and its totals. */
const SeedSessionFields = {
  user_id: Type.String({
    description:
      "The Python seed's user: the `user_id` given at creation (a label inside the owner's tenant), else the tenant that owns the session (`owner`).",
  }),
  system_prompt: nullable(Type.String(), 'The system prompt the session (or its template) sets.'),
  model: nullable(Type.String(), 'The model the session (or its template) sets.'),
  max_turns: nullable(Type.Integer(), 'The max_turns the session (or its template) sets.'),
  permission_mode: nullable(Type.String(), 'The permission mode the session (or its template) sets.'),
  effort: nullable(Type.String(), 'The effort the session (or its template) sets.'),
  allowed_tools: nullable(Type.String(), 'The allowed tools the session (or its template) sets, comma-separated.'),
  disallowed_tools: nullable(
    Type.String(),
    'The disallowed tools the session (or its template) sets, comma-separated.',
  ),
  total_cost: Type.Number({ description: 'The same as totals.cost_usd.' }),
  total_turns: Type.Integer({ description: 'The same as totals.turns: chat turns.' }),
};

export const SessionSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  owner: Type.String({
    description: "The tenant that owns the session (its API key's tenant id, or `local` in open mode).",
  }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('active')]),
  workspace: Type.String(),
  working_dir: Type.String(),
  claude_session_id: Type.Union([Type.String(), Type.Null()]),
  options: Type.Object({ system_prompt: Type.Optional(Type.String()), ...OptionFields }),
  template: Type.Union([Type.String(), Type.Null()], {
    description: 'The agent template the session follows (its current version applies at each process start).',
  }),
  totals: Totals,
  live: Type.Boolean({ description: 'A Claude Code process is running for this session.' }),
  busy: Type.Boolean({ description: 'A turn is running or waiting.' }),
  created_at: Type.String(),
  updated_at: Type.String(),
  last_active_at: Type.Union([Type.String(), Type.Null()]),
  ...SeedSessionFields,
});

/** The chat body; `maxChars` is MAX_MESSAGE_CHARS. */
export function chatBody(maxChars: number) {
  return Type.Object(
    {
      message: Type.String({
        minLength: 1,
        maxLength: maxChars,
        pattern: '\\S',
        description: `The prompt: not blank, at most ${maxChars} characters.`,
      }),
      system: Type.Optional(SystemPrompt),
      system_prompt: Type.Optional(SystemPrompt),
      permission_rules: Type.Optional(PermissionRulesSchema),
      wait: Type.Optional(
        Type.Boolean({
          description:
            'Sync chat only: keep waiting when the turn pauses for a person (an approval or a question) instead of answering 202 with what it waits for.',
        }),
      ),
      ...OptionFields,
    },
    { additionalProperties: false },
  );
}
export type ChatBody = Static<ReturnType<typeof chatBody>>;

const { turn_id, session_id, status: _status, content, cost_usd, denials: _denials, ...after } = TurnResultFields;

/** The sync chat answer: the turn's result (a failed turn is a problem response instead). */
export const ChatResult = Type.Object(
  {
    turn_id,
    session_id,
    status: Type.Union([Type.Literal('ok'), Type.Literal('interrupted')]),
    content,
    cost_usd,
    cost: Type.Number({ description: "The same as cost_usd (the Python seed's name)." }),
    ...after,
    denials: Type.Optional(
      Type.Array(DenialSchema, {
        description: 'Tool calls refused in this turn (also marked `denied` in tools_used); empty when none.',
      }),
    ),
  },
  { title: 'ChatResult' },
);

export const HistoryItem = Type.Object({
  id: Type.Integer(),
  turn_id: Type.String(),
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
  content: Type.String(),
  status: Type.String({ description: 'ok, error, interrupted or timeout' }),
  tools_used: Type.Union([Type.Array(ToolUseSchema), Type.Null()]),
  cost_usd: Type.Union([Type.Number(), Type.Null()]),
  cost: Type.Number({ description: 'cost_usd as the seed shows it: 0 on user messages.' }),
  duration_ms: Type.Union([Type.Integer(), Type.Null()]),
  num_turns: Type.Union([Type.Integer(), Type.Null()]),
  usage: Type.Union([TurnUsageSchema, Type.Null()]),
  model: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  created_at: Type.String(),
});

export const InterruptResult = Type.Object({ interrupted: Type.Boolean() });
