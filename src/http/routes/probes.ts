// Liveness and readiness probes for orchestrators: live = the process answers; ready = database, migrations, CLI and not draining.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { CliInfo } from '../../engine/cli-info.js';
import type { Store } from '../../store/index.js';
import type { AppDeps } from '../deps.js';
import { ok } from '../envelope.js';
import { Envelope } from '../schemas/common.js';
import { routePlugin } from '../route-plugin.js';
import { jobsStatus, NodeSchema, nodeView, type NodeViewDeps } from './health.js';

const Probe = Type.Object({
  status: Type.Enum(['ok', 'not_ready'], { type: 'string' }),
  checks: Type.Record(Type.String(), Type.Boolean()),
});
const Readiness = Type.Object({ ...Probe.properties, node: NodeSchema });

/** What the probes routes use. */
export type ProbeRoutesDeps = NodeViewDeps &
  Pick<AppDeps, 'jobs'> & { store: Pick<Store, 'ping'>; cli: Pick<CliInfo, 'ok'> };

async function probeRoutes(fastify: FastifyInstance, deps: ProbeRoutesDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/health/live',
    {
      config: { public: true },
      schema: {
        tags: ['Health'],
        operationId: 'getLiveness',
        summary: 'Liveness probe',
        description: 'Always 200 while the process serves HTTP.',
        response: { 200: Envelope(Probe) },
      },
    },
    async (request) => ok(request, { status: 'ok' as const, checks: { process: true } }),
  );
  app.get(
    '/health/ready',
    {
      config: { public: true },
      schema: {
        tags: ['Health'],
        operationId: 'getReadiness',
        summary: 'Readiness probe',
        description:
          '200 when the database answers, migrations ran, the Claude Code CLI starts, the server is not draining and (with REDIS_URL) the job queue answers; 503 (same body) otherwise. `node` says which node answered, its role, the session leases it holds, its live sessions and the queue depth.',
        response: { 200: Envelope(Readiness), 503: Envelope(Readiness) },
      },
    },
    async (request, reply) => {
      const jobs = await jobsStatus(deps);
      const checks = {
        database: await deps.store.ping().catch(() => false),
        migrations: true, // the server listens only after migrations ran
        claude_cli: deps.cli.ok,
        accepting_turns: !deps.engine.stats().draining,
        // With REDIS_URL the job queue must answer too (a node cut off from Redis can neither queue nor run jobs).
        ...(deps.jobs?.backend === 'redis' && { job_queue: jobs?.ok ?? false }),
      };
      const ready = Object.values(checks).every(Boolean);
      reply.code(ready ? 200 : 503);
      return ok(request, {
        status: ready ? ('ok' as const) : ('not_ready' as const),
        checks,
        node: nodeView(deps, jobs),
      });
    },
  );
}

export default routePlugin('probe-routes', probeRoutes);
