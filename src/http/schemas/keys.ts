// TypeBox schemas of the API key routes: the create body, the key as listed, and the created key with its secret.
import { Type, type Static } from 'typebox';

export const KeyIdParams = Type.Object({
  id: Type.String({
    pattern: '^(key|env)_[0-9a-f]{16}$',
    description: 'Key id (`key_…` for created keys, `env_…` for configured ones).',
  }),
});

export const CreateKeyBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      pattern: '^[^\\u0000-\\u001f]+$',
      description: 'A label for people (who or what uses the key).',
    }),
    scope: Type.Optional(
      Type.Union([Type.Literal('user'), Type.Literal('admin')], {
        default: 'user',
        description: '`user` (default): its own tenant only. `admin`: manages keys, sees every tenant.',
      }),
    ),
    rate_limit: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: 100_000_000 }), Type.Null()], {
        description: 'Requests per RATE_LIMIT_WINDOW for this key (default: RATE_LIMIT_REQUESTS).',
      }),
    ),
    budget_usd: Type.Optional(
      Type.Union([Type.Number({ minimum: 0, maximum: 1_000_000 }), Type.Null()], {
        description: 'Total spend allowed to this key, in USD (default: none of its own).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateKeyBody = Static<typeof CreateKeyBody>;

export const KeySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scope: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  tenant: Type.String({ description: "The key's tenant: `k_` + 16 hex digits of the SHA-256 of its secret." }),
  source: Type.Union([Type.Literal('env'), Type.Literal('db')], {
    description:
      '`env`: from API_KEYS / ADMIN_API_KEYS (revoke by removing it there). `db`: created through the API or CLI.',
  }),
  prefix: Type.Union([Type.String(), Type.Null()], {
    description: 'First characters of the secret, to tell keys apart.',
  }),
  rate_limit: Type.Union([Type.Integer(), Type.Null()]),
  budget_usd: Type.Union([Type.Number(), Type.Null()]),
  created_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'Updated at most once a minute.',
  }),
  revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const CreatedKeySchema = Type.Object({
  ...KeySchema.properties,
  secret: Type.String({ description: 'The key itself. Shown only in this response: store it now.' }),
});
