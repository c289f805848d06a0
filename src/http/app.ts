// Builds the Fastify application: logger, request ids, problem documents, OpenAPI, auth, then the /api/v1 routes.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { AppDeps } from './deps.js';
import authPlugin from './plugins/auth.js';
import openapiPlugin from './plugins/openapi.js';
import problemsPlugin from './plugins/problems.js';
import requestIdPlugin, { requestIdOf } from './plugins/request-id.js';
import requestLogPlugin from './plugins/request-log.js';
import { partAwareValidators } from './plugins/validators.js';
import chatRoutes from './routes/chat.js';
import healthRoutes from './routes/health.js';
import historyRoutes from './routes/history.js';
import sessionsRoutes from './routes/sessions.js';

export const API_PREFIX = '/api/v1';

export interface BuildAppOptions {
  /** false = silent; an object is merged over the defaults (level from LOG_LEVEL, secret headers redacted), e.g. `{ stream }`. */
  logger?: boolean | object;
  /** A ready pino logger to use instead (takes precedence over `logger`); it should redact the same headers as REDACT. */
  loggerInstance?: FastifyBaseLogger;
}

/** Header paths pino must never print, whatever gets logged. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'request.headers.authorization',
  'request.headers["x-api-key"]',
];

function loggerOptions(level: string, logger: boolean | object | undefined): false | object {
  if (logger === false) return false;
  return { level, redact: { paths: REDACT, censor: '[REDACTED]' }, ...(typeof logger === 'object' ? logger : {}) };
}

export async function buildApp(deps: AppDeps, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
  const logging: Pick<FastifyServerOptions, 'logger' | 'loggerInstance'> = opts.loggerInstance
    ? { loggerInstance: opts.loggerInstance }
    : { logger: loggerOptions(deps.config.logLevel, opts.logger) };
  const app = Fastify({
    ...logging,
    bodyLimit: deps.config.bodyLimitBytes,
    trustProxy: false,
    genReqId: requestIdOf,
    // Fastify's own per-request lines are off: the request-log plugin writes one line per request instead.
    schemaController: { compilersFactory: { buildValidator: partAwareValidators() } },
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: a text/plain body is refused with 415 rather than validated as a string.
  app.removeContentTypeParser('text/plain');

  await app.register(requestLogPlugin);
  await app.register(requestIdPlugin);
  await app.register(problemsPlugin);
  await app.register(openapiPlugin, { version: deps.version, apiPrefix: API_PREFIX });
  await app.register(authPlugin, { config: deps.config });

  await app.register(
    async (api) => {
      await healthRoutes(api, deps);
      await sessionsRoutes(api, deps);
      await chatRoutes(api, deps);
      await historyRoutes(api, deps);
    },
    { prefix: API_PREFIX },
  );

  return app;
}
