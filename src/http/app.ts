// Builds the Fastify application: logger, request ids, problem documents, OpenAPI, auth, the /api/v1 routes and the console.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify';
import type { AppDeps } from './deps.js';
import auditPlugin from './plugins/audit.js';
import { seedJsonBodies } from './plugins/seed-json.js';
import authPlugin from './plugins/auth.js';
import idempotencyPlugin from './plugins/idempotency.js';
import openapiPlugin from './plugins/openapi.js';
import problemsPlugin, { frameworkErrors } from './plugins/problems.js';
import rateLimitPlugin from './plugins/rate-limit.js';
import metricsPlugin from './plugins/metrics.js';
import requestIdPlugin, { requestIdOf } from './plugins/request-id.js';
import requestLogPlugin from './plugins/request-log.js';
import requestTimeoutsPlugin, { timeoutOptions } from './plugins/request-timeouts.js';
import revokedStreamsPlugin from './plugins/revoked-streams.js';
import securityHeadersPlugin from './plugins/security-headers.js';
import { listItemSerializers } from './plugins/serializers.js';
import { partAwareValidators } from './plugins/validators.js';
import approvalRoutes from './routes/approvals.js';
import auditRoutes from './routes/audit.js';
import chatRoutes from './routes/chat.js';
import filesRoutes from './routes/files.js';
import healthRoutes from './routes/health.js';
import historyRoutes from './routes/history.js';
import jobRoutes from './routes/jobs.js';
import keyRoutes from './routes/keys.js';
import probeRoutes from './routes/probes.js';
import sessionsRoutes from './routes/sessions.js';
import templateRoutes from './routes/templates.js';
import mcpRoutes from '../mcp/http.js';
import compatRoutes, { COMPAT_PREFIX } from './compat/index.js';
import consoleRoutes from './console.js';
import tokenRoutes from './routes/tokens.js';
import usageRoutes from './routes/usage.js';
import { securityDepsOf } from './security-deps.js';

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
    ...timeoutOptions(deps.config.timeouts),
    trustProxy: false,
    genReqId: requestIdOf,
    frameworkErrors,
    // Long enough for file paths in the URL; longer ones get a 414 problem.
    routerOptions: { maxParamLength: 8192 },
    // Fastify's own per-request lines are off: the request-log plugin writes one line per request instead.
    schemaController: {
      compilersFactory: { buildValidator: partAwareValidators(), buildSerializer: listItemSerializers() },
    },
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: a text/plain body is refused with 415 rather than validated as a string.
  app.removeContentTypeParser('text/plain');
  seedJsonBodies(app, API_PREFIX);

  await app.register(requestLogPlugin);
  await app.register(requestTimeoutsPlugin, { timeouts: deps.config.timeouts });
  await app.register(requestIdPlugin);
  const security = securityDepsOf(deps);
  await app.register(problemsPlugin);
  await app.register(securityHeadersPlugin, { config: deps.config });
  await app.register(openapiPlugin, { version: deps.version, apiPrefix: API_PREFIX, serve: deps.config.docs });
  await app.register(auditPlugin, { trail: security.trail, apiPrefix: API_PREFIX });
  // Before auth (which calls its per-IP limit on failed attempts) and before the routes (it hooks each one).
  await app.register(rateLimitPlugin, { config: deps.config, redis: deps.redis });
  await app.register(authPlugin, { config: deps.config, keys: security.keys });
  await app.register(revokedStreamsPlugin, { keys: security.keys });
  // After auth: an Idempotency-Key belongs to the caller's tenant.
  await app.register(idempotencyPlugin, {
    store: deps.store,
    ttlMs: deps.config.idempotencyTtlMs,
    apiPrefix: API_PREFIX,
  });
  if (deps.metrics && deps.config.metrics.enabled) {
    await app.register(metricsPlugin, { metrics: deps.metrics, public: deps.config.metrics.auth === 'none' });
  }

  // A worker node (NODE_ROLE=worker) runs jobs only: it serves health, probes and metrics, no API.
  const apiNode = deps.config.node.role !== 'worker';
  await app.register(
    async (api) => {
      await healthRoutes(api, deps);
      await probeRoutes(api, deps);
      if (!apiNode) return;
      await sessionsRoutes(api, deps);
      await chatRoutes(api, deps);
      await historyRoutes(api, deps);
      await filesRoutes(api, deps);
      await jobRoutes(api, deps);
      await approvalRoutes(api, deps);
      await templateRoutes(api, deps);
      await keyRoutes(api, security);
      await auditRoutes(api, security);
      await usageRoutes(api, security);
      await tokenRoutes(api, security);
    },
    { prefix: API_PREFIX },
  );
  if (!apiNode) return app;
  // The OpenAI- and Anthropic-compatible endpoints at /v1, behind the same auth, limits and audit.
  await app.register(compatRoutes, { prefix: COMPAT_PREFIX, deps, security });
  // MCP (Streamable HTTP) at /mcp, behind the same auth: each call acts as the caller's tenant.
  if (deps.config.mcp.enabled) await mcpRoutes(app, deps);
  // The web console at / (its own CSP; the API routes keep theirs).
  await app.register(consoleRoutes);

  return app;
}
