// Token count route: exact through the Messages API's count_tokens when Claude Code's credentials allow, else a marked estimate.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { CountMessage, TokenCounter } from '../../usage/token-count.js';
import { ok } from '../envelope.js';
import { unprocessable } from '../http-problem.js';
import { Envelope, problemResponses } from '../schemas/common.js';
import { CountTokensBody, TokenCountSchema } from '../schemas/tokens.js';
import { routePlugin } from '../route-plugin.js';

/** The Python seed's figures of a text: characters, words, and its estimate (the larger of characters / 4 and words). */
export function textFigures(text: string): { characters: number; words: number; estimated_tokens: number } {
  const characters = Array.from(text).length; // code points, as Python's len()
  const words = text.split(/\s+/).filter((w) => w.length > 0).length;
  return { characters, words, estimated_tokens: Math.max(Math.floor(characters / 4), words) };
}

/** What the tokens routes use. */
export type TokenRoutesDeps = { tokens: TokenCounter };

async function tokenRoutes(fastify: FastifyInstance, deps: TokenRoutesDeps): Promise<void> {
  fastify.withTypeProvider<TypeBoxTypeProvider>().post(
    '/tokens/count',
    {
      schema: {
        tags: ['Usage'],
        operationId: 'countTokens',
        summary: 'Count tokens',
        description:
          "Counts the input tokens of a prompt. Exact (`estimated: false`) through the Messages API's count_tokens endpoint with Claude Code's own " +
          'ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN (and ANTHROPIC_BASE_URL); otherwise an estimate marked `estimated: true` with the `reason`. ' +
          'Send `message` (one user message), `messages`, or `text` (as the Python seed: the answer adds `characters`, `words` and `estimated_tokens`).',
        body: CountTokensBody,
        response: { 200: Envelope(TokenCountSchema), ...problemResponses(400, 401, 413, 415, 422, 429) },
      },
    },
    async (request) => {
      const b = request.body;
      const given = [b.message, b.messages, b.text].filter((x) => x !== undefined).length;
      if (given !== 1) {
        throw unprocessable('Send exactly one of `message`, `messages` and `text`.', [
          { location: 'body', pointer: '', message: 'needs exactly one of message, messages, text' },
        ]);
      }
      const messages: CountMessage[] = b.messages ?? [{ role: 'user', content: (b.message ?? b.text)! }];
      const count = await deps.tokens.count({ model: b.model, system: b.system, messages });
      return ok(request, b.text === undefined ? count : { ...count, ...textFigures(b.text) });
    },
  );
}

export default routePlugin('token-routes', tokenRoutes);
