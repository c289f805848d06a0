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
import { routePlugin } from '../route-plugin.js';

export const COMPAT_PREFIX = '/v1';

/** What the compatible routes use. */
export type CompatRoutesDeps = Pick<AppDeps, 'config' | 'sessions' | 'store' | 'templates'> &
  Pick<SecurityDeps, 'tokens'>;

async function compatRoutes(app: FastifyInstance, deps: CompatRoutesDeps): Promise<void> {
  const ctx: CompatContext = {
    config: deps.config,
    conversations: new ConversationService(deps.sessions, deps.store, deps.config.maxMessageChars),
    templates: deps.templates,
    tokens: deps.tokens,
    ...(app.sessionOwner && { sessionOwner: app.sessionOwner }),
  };
  app.setErrorHandler(sendWireError);
  app.setNotFoundHandler((request, reply) =>
    sendWireError(notFound(`Route ${request.method} ${request.url.split('?')[0]}`), request, reply),
  );
  await openAiRoutes(app, ctx);
  await anthropicRoutes(app, ctx);
  await modelRoutes(app, ctx);
}

/** Registered with `prefix: COMPAT_PREFIX`; encapsulated, so its error and not-found handlers stay under /v1. */
export default routePlugin('compat-routes', compatRoutes);
