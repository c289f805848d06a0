// GET /health (public): the service, its database and Claude Code, 200 when all are fine and 503 (same body) when not.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Engine } from '../../engine/engine.js';
import type { SessionService } from '../../sessions/service.js';
import type { Store } from '../../store/index.js';
import type { AppDeps } from '../deps.js';
import { ok } from '../envelope.js';
import { Envelope } from '../schemas/common.js';
import { routePlugin } from '../route-plugin.js';

const DB_PING_TIMEOUT_MS = 2000;

/** This node of a cluster (or the only one): what /health and /health/ready say about it. */
export const NodeSchema = Type.Object(
  {
    id: Type.String({ description: 'NODE_ID.' }),
    role: Type.Enum(['all', 'api', 'worker'], { type: 'string', description: 'NODE_ROLE.' }),
    url: Type.String({ description: 'How other nodes reach this one (NODE_URL, else the listening address).' }),
    cluster: Type.Boolean({ description: 'CLUSTER_ENABLED: one node of several.' }),
    leases_held: Type.Integer({
      minimum: 0,
      description: 'Sessions whose lease this node holds (0 on a single node).',
    }),
    live_sessions: Type.Integer({ minimum: 0, description: 'Live Claude Code processes on this node.' }),
    queue_depth: Type.Integer({
      minimum: 0,
      description: "Turns waiting for a turn slot on this node plus the jobs queued (the whole cluster's).",
    }),
  },
  { description: 'This node ([scaling](scaling.md)).' },
);
export type NodeView = Static<typeof NodeSchema>;

/** What the node section of health and readiness reads. */
export type NodeViewDeps = Pick<AppDeps, 'config' | 'cluster'> & { engine: Pick<Engine, 'stats'> };

/**
 * This node's view for health and readiness; `jobs` is the job queue as `jobsStatus` read it (its waiting jobs count
 * in the queue depth; none when there is no jobs layer or it did not answer).
 */
export function nodeView(deps: NodeViewDeps, jobs: Health['jobs']): NodeView {
  const stats = deps.engine.stats();
  return {
    id: deps.config.node.id,
    role: deps.config.node.role,
    url: deps.cluster?.nodes.self.url ?? deps.config.node.url,
    cluster: deps.cluster !== undefined,
    leases_held: deps.cluster?.leases.count ?? 0,
    live_sessions: stats.live_processes,
    queue_depth: stats.turns_waiting + (jobs?.waiting ?? 0),
  };
}

export const HealthSchema = Type.Object({
  status: Type.Enum(['ok', 'degraded'], { type: 'string' }),
  version: Type.String(),
  uptime_seconds: Type.Integer({ minimum: 0 }),
  database: Type.Object({ ok: Type.Boolean(), dialect: Type.String() }),
  claude: Type.Object({
    cli_ok: Type.Boolean(),
    cli_version: Type.Union([Type.String(), Type.Null()]),
    cli_path_source: Type.Enum(['bundled', 'CLAUDE_CLI_PATH'], {
      type: 'string',
      description: "Where the CLI comes from: the SDK's bundled binary or CLAUDE_CLI_PATH.",
    }),
    auth: Type.String({
      description:
        'Which credentials the CLI would use: api_key, auth_token, oauth_token, bedrock, vertex, foundry, subscription_login or none.',
    }),
  }),
  engine: Type.Object(
    {
      live_processes: Type.Integer(),
      busy_processes: Type.Integer(),
      turns_running: Type.Integer(),
      turns_waiting: Type.Integer(),
      draining: Type.Boolean(),
      spares: Type.Object(
        {
          target: Type.Integer({ description: 'WARM_SPARES.' }),
          ready: Type.Integer({ description: 'Started and waiting for a new session.' }),
          starting: Type.Integer({ description: 'Being started.' }),
          reason: Type.Union([Type.String(), Type.Null()], {
            description:
              'Why no spare is kept although WARM_SPARES asks for some (e.g. the wall cannot run); else null.',
          }),
        },
        { description: "Warm spares: Claude Code processes started ahead of new sessions' first turns." },
      ),
    },
    { additionalProperties: true },
  ),
  auth_mode: Type.Enum(['api_keys', 'open'], { type: 'string', description: 'open = no API_KEYS configured.' }),
  sandbox: Type.Object(
    {
      enabled: Type.Boolean({ description: 'SANDBOX_ENABLED.' }),
      available: Type.Boolean({
        description:
          'The OS sandbox starts here, so Bash runs inside it. false while enabled: Bash is refused in every session.',
      }),
      reason: Type.Union([Type.String(), Type.Null()], {
        description: 'Why the sandbox is off or cannot start; null when it runs.',
      }),
      network: Type.Boolean({ description: 'Sandboxed commands may reach the network (SANDBOX_ALLOW_NETWORK).' }),
    },
    { description: 'The OS sandbox of Bash (docs/security.md).' },
  ),
  wall: Type.Object(
    {
      enabled: Type.Boolean({ description: 'WALL_ENABLED.' }),
      available: Type.Boolean({
        description: "Every session's Claude Code process runs inside its own bubblewrap wall.",
      }),
      reason: Type.Union([Type.String(), Type.Null()], {
        description: 'Why the wall is off or cannot run here; null when it runs.',
      }),
      unconfined_tenants: Type.Boolean({
        description: 'Several tenants may be served without the wall (WALL_UNCONFINED_TENANTS).',
      }),
      limits: Type.Object({
        memory_mb: Type.Number({ description: 'WALL_MEMORY_MB (0 = none).' }),
        max_processes: Type.Integer({ description: 'WALL_MAX_PROCESSES (0 = none).' }),
        max_file_mb: Type.Number({ description: 'WALL_MAX_FILE_MB (0 = none).' }),
        enforced_by: Type.String({ description: 'How the limits are applied on this host.' }),
      }),
    },
    { description: "The OS wall around each session's process (docs/security.md)." },
  ),
  node: NodeSchema,
  jobs: Type.Union([
    Type.Object(
      {
        backend: Type.Enum(['database', 'redis'], {
          type: 'string',
          description:
            '`redis`: BullMQ carries jobs between nodes (REDIS_URL); `database`: this process polls the jobs table.',
        }),
        runs_jobs: Type.Boolean({ description: 'This node runs jobs (NODE_ROLE all or worker).' }),
        ok: Type.Boolean({ description: 'The queue answered (false: Redis is unreachable; the figures are 0).' }),
        waiting: Type.Integer({ minimum: 0, description: 'Queued and due.' }),
        active: Type.Integer({ minimum: 0, description: 'Running, or waiting for a person.' }),
        delayed: Type.Integer({ minimum: 0, description: 'Queued for later (a retry, a busy session or turn slot).' }),
        failed: Type.Integer({
          minimum: 0,
          description: 'Failed: every failed job (database), or the runs BullMQ gave up on and keeps (redis).',
        }),
        webhooks: Type.Optional(
          Type.Object(
            {
              waiting: Type.Integer({ minimum: 0, description: 'Attempts due, not yet taken by a node.' }),
              active: Type.Integer({ minimum: 0, description: 'Attempts being made.' }),
              delayed: Type.Integer({ minimum: 0, description: 'Attempts waiting for their time (retries, backoff).' }),
              failed: Type.Integer({
                minimum: 0,
                description: 'Always 0: a job the queue gives up on is dropped; its delivery row keeps the record.',
              }),
            },
            {
              description:
                "With REDIS_URL: the webhook queue (BullMQ, each delivery attempt a job), the whole cluster's. Absent without it.",
            },
          ),
        ),
      },
      { description: 'The job queue as the whole cluster sees it.' },
    ),
    Type.Null(),
  ]),
  warnings: Type.Array(Type.String()),
});
export type Health = Static<typeof HealthSchema>;

/** The Python seed's health answer, kept at the top level beside `data` and `meta` where its clients read it. */
const SeedChecks = {
  status: Type.Enum(['ok', 'degraded'], { type: 'string', description: 'The same as data.status.' }),
  checks: Type.Object({
    database: Type.Enum(['ok', 'error'], { type: 'string' }),
    claude_cli: Type.Enum(['ok', 'not_found'], {
      type: 'string',
      description: '`not_found` when the Claude Code CLI does not start.',
    }),
  }),
};
const HealthEnvelope = Type.Object({ ...Envelope(HealthSchema).properties, ...SeedChecks });

/** store.ping() with a time limit: a hung database counts as down. */
async function pingWithin(ping: () => Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([ping().catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The job queue's figures, within the ping's time limit; null when this app has no jobs layer. */
export async function jobsStatus(deps: Pick<AppDeps, 'jobs'>): Promise<Health['jobs']> {
  const jobs = deps.jobs;
  if (!jobs) return null;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), DB_PING_TIMEOUT_MS);
  });
  try {
    const status = await Promise.race([jobs.queueStatus().catch(() => undefined), timeout]);
    if (status) return { ...status, ok: true };
    return { backend: jobs.backend, runs_jobs: jobs.runsJobs, ok: false, waiting: 0, active: 0, delayed: 0, failed: 0 };
  } finally {
    clearTimeout(timer);
  }
}

/** What the health routes use. */
export type HealthRoutesDeps = Pick<AppDeps, 'config' | 'cli' | 'version' | 'warnings'> &
  NodeViewDeps &
  Pick<AppDeps, 'jobs'> & {
    store: Pick<Store, 'ping' | 'dialect'>;
    engine: Pick<Engine, 'stats'>;
    sessions: Pick<SessionService, 'security'>;
  };

async function healthRoutes(app: FastifyInstance, deps: HealthRoutesDeps): Promise<void> {
  const { config, store, cli, engine } = deps;
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/health',
    {
      config: { public: true },
      schema: {
        tags: ['Health'],
        operationId: 'getHealth',
        summary: 'Health of the service, its database and Claude Code',
        description: '200 when the database answers and the Claude Code CLI starts; 503 with the same body otherwise.',
        response: {
          200: { ...HealthEnvelope, description: 'Healthy: the database answers and the CLI starts.' },
          503: { ...HealthEnvelope, description: 'Degraded: the database or the CLI is not ok.' },
        },
      },
    },
    async (request, reply) => {
      const [dbOk, jobs] = await Promise.all([pingWithin(() => store.ping(), DB_PING_TIMEOUT_MS), jobsStatus(deps)]);
      const node = nodeView(deps, jobs);
      const healthy = dbOk && cli.ok;
      const body: Health = {
        status: healthy ? 'ok' : 'degraded',
        version: deps.version,
        uptime_seconds: Math.floor(process.uptime()),
        database: { ok: dbOk, dialect: store.dialect },
        claude: {
          cli_ok: cli.ok,
          cli_version: cli.version ?? null,
          cli_path_source: config.claude.cliPath ? 'CLAUDE_CLI_PATH' : 'bundled',
          auth: cli.auth,
        },
        engine: engine.stats(),
        auth_mode: config.apiKeys.length + config.adminApiKeys.length > 0 ? 'api_keys' : 'open',
        sandbox: deps.sessions.security?.sandbox ?? {
          enabled: false,
          available: false,
          reason: 'not configured',
          network: true,
        },
        wall: deps.sessions.security?.wall.status ?? {
          enabled: false,
          available: false,
          reason: 'not configured',
          unconfined_tenants: false,
          limits: { memory_mb: 0, max_processes: 0, max_file_mb: 0, enforced_by: 'none' },
        },
        node,
        jobs,
        warnings: deps.warnings,
      };
      const checks = { database: dbOk ? 'ok' : 'error', claude_cli: cli.ok ? 'ok' : 'not_found' } as const;
      return reply.code(healthy ? 200 : 503).send({ ...ok(request, body), status: body.status, checks });
    },
  );
}

export default routePlugin('health-routes', healthRoutes);
