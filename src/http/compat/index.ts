// The OpenAI- and Anthropic-compatible endpoints under /v1, with errors in each API's own shape (same keys, limits and audit as /api/v1).
import type { FastifyInstance } from 'fastify';
import { ConversationService } from '../../sessions/conversations.js';
import type { AppDeps } from '../deps.js';
import { notFound } from '../http-problem.js';
import type { SecurityDeps } from '../security-deps.js';
import anthropicRoutes from './anthropic-routes.js';
import type { CompatContext } from './context.js';
import modelRoutes from './models-routes.js';
import openAiRoutes from './openai-routes.js';
import { sendWireError } from './wire-errors.js';

export const COMPAT_PREFIX = '/v1';

/** Registered with `prefix: COMPAT_PREFIX`; encapsulated, so its error and not-found handlers stay under /v1. */
export default async function compatRoutes(
  app: FastifyInstance,
  opts: { deps: AppDeps; security: Pick<SecurityDeps, 'tokens'> },
): Promise<void> {
  const { deps } = opts;
  const ctx: CompatContext = {
    config: deps.config,
    conversations: new ConversationService(deps.sessions, deps.store, deps.config.maxMessageChars),
    templates: deps.templates,
    tokens: opts.security.tokens,
  };
  app.setErrorHandler(sendWireError);
  app.setNotFoundHandler((request, reply) =>
    sendWireError(notFound(`Route ${request.method} ${request.url.split('?')[0]}`), request, reply),
  );
  await openAiRoutes(app, ctx);
  await anthropicRoutes(app, ctx);
  await modelRoutes(app, ctx);
}
