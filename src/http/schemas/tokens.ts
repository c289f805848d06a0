// TypeBox schemas of the token count route: a Messages-API-like body and the count.
import { Type, type Static } from 'typebox';

const TextBlock = Type.Object(
  { type: Type.Literal('text'), text: Type.String({ maxLength: 2_000_000 }) },
  { additionalProperties: true },
);

const Message = Type.Object(
  {
    role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
    content: Type.Union([
      Type.String({ maxLength: 2_000_000 }),
      Type.Array(TextBlock, { minItems: 1, maxItems: 1000 }),
    ]),
  },
  { additionalProperties: false },
);

export const CountTokensBody = Type.Object(
  {
    model: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'Model to count for (default: CLAUDE_MODEL, else a current Sonnet).',
      }),
    ),
    system: Type.Optional(Type.String({ maxLength: 2_000_000, description: 'System prompt.' })),
    message: Type.Optional(Type.String({ maxLength: 2_000_000, description: 'Shorthand for one user message.' })),
    text: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2_000_000,
        description:
          "The Python seed's field: the text to count, as one user message; the answer adds `characters`, `words` and `estimated_tokens`.",
      }),
    ),
    messages: Type.Optional(
      Type.Array(Message, {
        minItems: 1,
        maxItems: 10_000,
        description: 'Messages as in the Messages API (text content).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CountTokensBody = Static<typeof CountTokensBody>;

export const TokenCountSchema = Type.Object({
  input_tokens: Type.Integer({ minimum: 0 }),
  estimated: Type.Boolean({
    description:
      "true = an estimate (about 4 characters a token); false = exact, from the Messages API's count_tokens.",
  }),
  model: Type.String(),
  source: Type.Union([Type.Literal('count_tokens_api'), Type.Literal('estimate')]),
  reason: Type.Optional(Type.String({ description: 'Why the count is estimated.' })),
  characters: Type.Optional(Type.Integer({ minimum: 0, description: 'With `text`: its length in characters.' })),
  words: Type.Optional(Type.Integer({ minimum: 0, description: 'With `text`: its whitespace-separated words.' })),
  estimated_tokens: Type.Optional(
    Type.Integer({
      minimum: 0,
      description:
        "With `text`: the seed's estimate, the larger of characters / 4 and words (input_tokens is the exact count when the API gives one).",
    }),
  ),
});
