// Usage route: cost, tokens and turns grouped by key, session, model or day over a time range, scoped to the caller's tenant.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { UsageService } from '../../usage/usage-service.js';
import { ok } from '../envelope.js';
import { ownerFilter } from '../plugins/auth.js';
import { Envelope, problemResponses } from '../schemas/common.js';
import { UsageQuery, UsageReport } from '../schemas/usage.js';
import { routePlugin } from '../route-plugin.js';

const isoOf = (t: string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

/** What the usage routes use. */
export type UsageRoutesDeps = { usage: UsageService };

async function usageRoutes(fastify: FastifyInstance, deps: UsageRoutesDeps): Promise<void> {
  fastify.withTypeProvider<TypeBoxTypeProvider>().get(
    '/usage',
    {
      schema: {
        tags: ['Usage'],
        operationId: 'getUsage',
        summary: 'Usage: cost, tokens and turns',
        description:
          'Sums over the turns in history (deleted sessions no longer count), grouped by `key`, `session`, `model` or `day` (UTC), between `from` and `to`. ' +
          'A user key sees its own tenant; an admin key sees all (or one tenant with X-Tenant).',
        querystring: UsageQuery,
        response: { 200: Envelope(UsageReport), ...problemResponses(401, 422, 429) },
      },
    },
    async (request) => {
      const q = request.query;
      const report = await deps.usage.report({
        owner: ownerFilter(request),
        groupBy: q.group_by ?? 'day',
        from: isoOf(q.from),
        to: isoOf(q.to),
      });
      return ok(request, report);
    },
  );
}

export default routePlugin('usage-routes', usageRoutes);
