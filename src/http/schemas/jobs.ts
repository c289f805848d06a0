// TypeBox schemas of jobs: the create body, list query, path parameters and the job with its webhook delivery log.
import { Type, type Static } from 'typebox';
import { PaginationQuery } from './common.js';
import { ChatResult, chatBody, SESSION_NAME_PATTERN } from './sessions.js';

const JobStatusSchema = Type.Union(
  [
    Type.Literal('queued'),
    Type.Literal('running'),
    Type.Literal('waiting'),
    Type.Literal('done'),
    Type.Literal('failed'),
    Type.Literal('cancelled'),
  ],
  {
    description:
      'queued → running (⇄ waiting, while its turn waits for a person: an approval or a question) → done | failed | cancelled (`done`: it succeeded, as the Python seed names it; its webhook event is `job.succeeded`)',
  },
);

/** A chat body's fields but `wait` (a job never answers before its turn ends). */
function jobChatFields(maxChars: number) {
  const { wait: _wait, ...fields } = chatBody(maxChars).properties;
  return fields;
}

/** The create body: a chat body plus `webhook_url` and `metadata`; `maxChars` is MAX_MESSAGE_CHARS. */
export function jobBody(maxChars: number) {
  return Type.Object(
    {
      ...jobChatFields(maxChars),
      webhook_url: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 2048,
          description:
            "http(s) URL that receives this job's signed events (job.started, job.succeeded, job.failed, job.cancelled). Refused (422) when its host resolves to an internal address, unless WEBHOOK_ALLOW_PRIVATE=true.",
        }),
      ),
      metadata: Type.Optional(
        Type.Object(
          {},
          {
            additionalProperties: true,
            description: 'A small JSON object (at most 16 KiB) echoed back on the job and in its webhooks.',
          },
        ),
      ),
    },
    { additionalProperties: false },
  );
}
export type JobBody = Static<ReturnType<typeof jobBody>>;

export const JobParams = Type.Object({
  name: Type.String({ pattern: SESSION_NAME_PATTERN, description: 'Session name.' }),
  id: Type.String({
    pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
    description: 'Job id.',
  }),
});

export const JobEventsQuery = Type.Object({
  last_event_id: Type.Optional(
    Type.String({
      description:
        'Only the events after this id (as the Last-Event-ID header; a value that is not a number is ignored).',
    }),
  ),
});

export const JobListQuery = Type.Object({
  ...PaginationQuery.properties,
  status: Type.Optional(
    Type.Union([...JobStatusSchema.anyOf, Type.Literal('succeeded')], {
      description: 'Only jobs in this state (`succeeded` is accepted for `done`).',
    }),
  ),
});

const Problem = Type.Object(
  { type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String() },
  { additionalProperties: true, description: 'RFC 9457 problem document of a failed or cancelled job.' },
);

const DeliveryAttempt = Type.Object({
  attempt: Type.Integer({ minimum: 1 }),
  at: Type.String({ description: 'When the attempt started.' }),
  status_code: Type.Union([Type.Integer(), Type.Null()], {
    description: 'HTTP status the receiver answered; null when there was no answer.',
  }),
  error: Type.Union([Type.String(), Type.Null()], {
    description: 'Why it failed (time-out, connection error, non-2xx, refused address); null on success.',
  }),
  duration_ms: Type.Integer(),
});

export const DeliverySchema = Type.Object({
  id: Type.String({ description: 'The message id, sent as `webhook-id` on every attempt.' }),
  event: Type.String({ description: 'job.started, job.succeeded, job.failed or job.cancelled.' }),
  target: Type.Union([Type.Literal('job'), Type.Literal('server')], {
    description: "`job`: the job's webhook_url; `server`: the operator's WEBHOOK_URL (not shown).",
  }),
  url: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')], {
    description: '`failed` = given up after WEBHOOK_MAX_ATTEMPTS (or refused).',
  }),
  attempts: Type.Integer(),
  next_attempt_at: Type.Union([Type.String(), Type.Null()]),
  log: Type.Array(DeliveryAttempt),
});

export const JobSchema = Type.Object({
  id: Type.String(),
  session: Type.String({ description: "The session's name." }),
  status: JobStatusSchema,
  message: Type.String(),
  options: Type.Object({}, { additionalProperties: true, description: 'The chat overrides of the job.' }),
  webhook_url: Type.Union([Type.String(), Type.Null()]),
  metadata: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  turn_id: Type.Union([Type.String(), Type.Null()], {
    description: "The turn that ran (or runs) the job; its messages are in the session's history.",
  }),
  result: Type.Union([ChatResult, Type.Null()], {
    description:
      'Set when the job succeeded (or the partial result of a cancelled one): the same shape as a sync chat.',
  }),
  error: Type.Union([Problem, Type.Null()]),
  cost: Type.Number({
    description: "What its turn cost, USD (result.cost_usd; 0 without a result): the seed's field.",
  }),
  duration_ms: Type.Integer({ description: 'How long its turn ran (result.duration_ms; 0 without a result).' }),
  attempts: Type.Integer({ description: 'How many times its turn started.' }),
  restarts: Type.Integer({ description: 'How many times it was re-queued after a server restart (at most 1).' }),
  created_at: Type.String(),
  started_at: Type.Union([Type.String(), Type.Null()]),
  finished_at: Type.Union([Type.String(), Type.Null()]),
  completed_at: Type.Union([Type.String(), Type.Null()], { description: "The same as finished_at (the seed's name)." }),
  updated_at: Type.String(),
  webhooks: Type.Array(DeliverySchema, { description: 'The webhook messages of the job and every delivery attempt.' }),
});
