// History route: a session's user and assistant messages in order, with tools, cost and timing.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppDeps } from '../deps.js';
import { ok, pageOf, paginationOf } from '../envelope.js';
import { ListEnvelope, PaginationQuery, problemResponses } from '../schemas/common.js';
import { HistoryItem, SessionNameParams } from '../schemas/sessions.js';
import { historyView } from '../views.js';
import { routePlugin } from '../route-plugin.js';

/** What the history routes use. */
export type HistoryRoutesDeps = Pick<AppDeps, 'sessions'>;

async function historyRoutes(fastify: FastifyInstance, deps: HistoryRoutesDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/sessions/:name/history',
    {
      schema: {
        tags: ['History'],
        operationId: 'getHistory',
        summary: 'Chat history',
        description:
          'User and assistant messages, oldest first. Assistant messages carry status, tools used, cost, usage and timing.',
        params: SessionNameParams,
        querystring: PaginationQuery,
        response: {
          200: ListEnvelope(HistoryItem, {
            session_id: Type.String({
              description:
                "The Python seed's field: the Claude session id, or the session's own id before its first turn.",
            }),
            count: Type.Integer({ description: "The Python seed's field: the messages on this page." }),
          }),
          ...problemResponses(401, 404, 422),
        },
      },
    },
    async (request) => {
      const p = pageOf(request.query);
      const session = await deps.sessions.get(request.tenant, request.params.name);
      const result = await deps.sessions.history(request.tenant, request.params.name, p.offset, p.limit);
      const page = ok(request, result.items.map(historyView), paginationOf(p, result.total));
      return { ...page, session_id: session.claude_session_id ?? session.id, count: result.items.length };
    },
  );
}

export default routePlugin('history-routes', historyRoutes);
