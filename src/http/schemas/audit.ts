// TypeBox schemas of the audit route: its filters and one audit row.
import { Type } from 'typebox';
import { PaginationQuery } from './common.js';

const Time = (description: string) => Type.Optional(Type.String({ format: 'date-time', description }));

export const AuditQuery = Type.Object({
  ...PaginationQuery.properties,
  action: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 100,
      description: 'e.g. `session.create`, `session.chat`, `session.delete`, `key.create`, `tool.use`, `tool.deny`.',
    }),
  ),
  session: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Session name.' })),
  key_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Key id (`key_…` or `env_…`).' })),
  from: Time('Rows at or after this time (ISO-8601).'),
  to: Time('Rows before this time (ISO-8601).'),
});

export const AuditItem = Type.Object({
  id: Type.Integer(),
  at: Type.String({ format: 'date-time' }),
  key_id: Type.Union([Type.String(), Type.Null()]),
  tenant: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  resource: Type.Union([Type.String(), Type.Null()], {
    description: 'What the action was on, e.g. `sessions/my-session`.',
  }),
  session: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Integer(), Type.Null()], {
    description: 'HTTP status of the request; null for tool events.',
  }),
  outcome: Type.String({
    description: '`ok`, `rejected` (4xx), `failed` (5xx) for requests; `ok` or `denied` for tool events.',
  }),
  request_id: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  method: Type.Union([Type.String(), Type.Null()]),
  route: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
    description:
      'Tool events: tool, input (clipped), reason (denials), turn_id. Chat and job requests: message (its first 500 characters).',
  }),
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant')], {
    description: "By whom: `user` for the caller's requests, `assistant` for Claude's tool calls and their denials.",
  }),
  content: Type.String({
    description:
      'What was said (the message of a chat or job request) or done (the tool call, the request and its status).',
  }),
  session_name: Type.Union([Type.String(), Type.Null()], { description: 'The same as `session`.' }),
});
