// Builds the Fastify application: the shell (logger, request ids, problem documents, OpenAPI, auth, limits), then the /api/v1 routes, the compatible endpoints, MCP and the console.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import type { Redis } from 'ioredis';
import type { Cluster } from '../cluster/index.js';
import type { Config } from '../config/index.js';
import type { Metrics } from '../metrics/registry.js';
import type { AuditTrail } from '../security/audit.js';
import type { KeyService } from '../security/keys-service.js';
import type { Store } from '../store/index.js';
import type { AppDeps } from './deps.js';
import auditPlugin from './plugins/audit.js';
import { seedJsonBodies } from './plugins/seed-json.js';
import authPlugin from './plugins/auth.js';
import idempotencyPlugin from './plugins/idempotency.js';
import forwardPlugin, { isForwarded } from './plugins/forward.js';
import openapiPlugin from './plugins/openapi.js';
import problemsPlugin, { frameworkErrors } from './plugins/problem-responses.js';
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

/** What the shell's plugins use: settings, keys, and the optional audit trail, Redis, idempotency records and metrics. */
export interface ShellDeps {
  config: Config;
  /** The service's own version (package.json), for the OpenAPI document. */
  version: string;
  keys: KeyService;
  /** Where audit rows go; nothing is audited when absent. */
  trail?: AuditTrail;
  /** Shared rate-limit counters (REDIS_URL). */
  redis?: Redis;
  /** Where idempotency records live; without it the idempotency plugin is not registered (and routes that need it refuse to boot). */
  idempotencyStore?: Pick<Store, 'idempotency'>;
  metrics?: Metrics;
  /** This node's place in a cluster: requests other nodes forwarded here are not rate-counted again. */
  cluster?: Cluster;
}

/**
 * The application without routes: every cross-cutting plugin, in an order Fastify checks at boot (each plugin and
 * route module names the plugins it needs in its `dependencies`). Routes are registered on it afterwards.
 */
export async function buildShell(deps: ShellDeps, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
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
  await app.register(problemsPlugin);
  await app.register(securityHeadersPlugin, { config: deps.config });
  await app.register(openapiPlugin, { version: deps.version, apiPrefix: API_PREFIX, serve: deps.config.docs });
  await app.register(auditPlugin, { trail: deps.trail, apiPrefix: API_PREFIX });
  // A request another node of the cluster forwarded here was counted there.
  const cluster = deps.cluster;
  await app.register(rateLimitPlugin, {
    config: deps.config,
    redis: deps.redis,
    ...(cluster && { exempt: (request: FastifyRequest) => isForwarded(request, cluster) }),
  });
  await app.register(authPlugin, { keys: deps.keys });
  await app.register(revokedStreamsPlugin, { keys: deps.keys });
  if (deps.idempotencyStore) {
    await app.register(idempotencyPlugin, {
      store: deps.idempotencyStore,
      ttlMs: deps.config.idempotencyTtlMs,
      apiPrefix: API_PREFIX,
    });
  }
  if (deps.metrics && deps.config.metrics.enabled) {
    await app.register(metricsPlugin, { metrics: deps.metrics, public: deps.config.metrics.auth === 'none' });
  }
  return app;
}

/** The whole application: the shell, then each route module with the services it uses. */
export async function buildApp(deps: AppDeps, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
  const security = securityDepsOf(deps);
  const app = await buildShell(
    {
      config: deps.config,
      version: deps.version,
      keys: security.keys,
      trail: security.trail,
      redis: deps.redis,
      idempotencyStore: deps.store,
      metrics: deps.metrics,
      ...(deps.cluster && { cluster: deps.cluster }),
    },
    opts,
  );
  // Several nodes: a session's requests go to the node that runs it (registered before the routes it wraps).
  if (deps.cluster)
    await app.register(forwardPlugin, { cluster: deps.cluster, sessions: deps.sessions, apiPrefix: API_PREFIX });
  await app.register(
    async (api) => {
      await api.register(healthRoutes, deps);
      await api.register(probeRoutes, deps);
      // A worker node serves health and metrics only; its jobs run the sessions (NODE_ROLE=worker).
      if (deps.config.node.role === 'worker') return;
      await api.register(sessionsRoutes, deps);
      await api.register(chatRoutes, deps);
      await api.register(historyRoutes, deps);
      await api.register(filesRoutes, deps);
      await api.register(jobRoutes, deps);
      await api.register(approvalRoutes, deps);
      await api.register(templateRoutes, deps);
      await api.register(keyRoutes, security);
      await api.register(auditRoutes, security);
      await api.register(usageRoutes, security);
      await api.register(tokenRoutes, security);
    },
    { prefix: API_PREFIX },
  );
  if (deps.config.node.role === 'worker') return app;
  // The OpenAI- and Anthropic-compatible endpoints at /v1, behind the same auth, limits and audit.
  await app.register(compatRoutes, { ...deps, tokens: security.tokens, prefix: COMPAT_PREFIX });
  // MCP (Streamable HTTP) at /mcp, behind the same auth: each call acts as the caller's tenant.
  if (deps.config.mcp.enabled) await app.register(mcpRoutes, deps);
  // The web console at / (its own CSP; the API routes keep theirs).
  await app.register(consoleRoutes);

  return app;
}
