// TypeBox schemas of the usage route: grouping and time range, and the report.
import { Type } from 'typebox';

export const UsageQuery = Type.Object({
  group_by: Type.Optional(
    Type.Union([Type.Literal('key'), Type.Literal('session'), Type.Literal('model'), Type.Literal('day')], {
      default: 'day',
      description: 'How to group the sums.',
    }),
  ),
  from: Type.Optional(
    Type.String({ format: 'date-time', description: 'Turns that ended at or after this time (ISO-8601).' }),
  ),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Turns that ended before this time (ISO-8601).' })),
});

const Sums = {
  cost_usd: Type.Number(),
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_read_tokens: Type.Integer(),
  cache_creation_tokens: Type.Integer(),
  turns: Type.Integer({ description: 'Chat turns (assistant messages in history).' }),
};

export const UsageGroupSchema = Type.Object({
  group: Type.Union([Type.String(), Type.Null()], {
    description: 'Key id, session name, model (null when unknown) or day (YYYY-MM-DD, UTC).',
  }),
  owner: Type.Optional(Type.String({ description: 'Tenant of the group (key and session groupings).' })),
  key_name: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  ...Sums,
});

export const UsageReport = Type.Object({
  group_by: Type.String(),
  from: Type.Union([Type.String(), Type.Null()]),
  to: Type.Union([Type.String(), Type.Null()]),
  totals: Type.Object(Sums),
  groups: Type.Array(UsageGroupSchema),
  // The Python seed's figures, over the current sessions (whatever from/to say).
  sessions: Type.Integer({ description: 'Sessions the caller holds now.' }),
  messages: Type.Integer({ description: 'Messages (user and assistant) in their history.' }),
  cost: Type.Number({ description: 'Their total cost, USD.' }),
  turns: Type.Integer({ description: 'Their chat turns.' }),
  jobs: Type.Object(
    {
      total: Type.Integer(),
      queued: Type.Integer(),
      running: Type.Integer(),
      waiting: Type.Integer({ description: 'Jobs whose turn waits for a person (an approval or a question).' }),
      completed: Type.Integer({ description: 'Jobs that ended `done`.' }),
      failed: Type.Integer(),
      cancelled: Type.Integer(),
    },
    { description: "The caller's jobs by state (jobs of deleted sessions are gone with them)." },
  ),
});
