// Session routes: create, list, get, delete, and change the working directory.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { AppDeps } from '../deps.js';
import { ok, pageOf, paginationOf } from '../envelope.js';
import { Envelope, ListEnvelope, problemResponses } from '../schemas/common.js';
import {
  CreateSessionBody,
  DeleteQuery,
  RepoBody,
  SessionListQuery,
  SessionNameParams,
  SessionSchema,
  toolsOf,
} from '../schemas/sessions.js';
import { ownerFilter } from '../plugins/auth.js';
import type { SessionRow } from '../../store/schema.js';
import { sessionView } from '../views.js';
import { routePlugin } from '../route-plugin.js';

/** What the sessions routes use. */
export type SessionRoutesDeps = Pick<AppDeps, 'sessions' | 'templates'>;

async function sessionRoutes(fastify: FastifyInstance, deps: SessionRoutesDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { sessions, templates } = deps;
  const view = (row: SessionRow) =>
    sessionView(row, sessions.liveness(row.id), row.template ? templates.get(row.template)?.profile : undefined);

  app.post(
    '/sessions',
    {
      schema: {
        tags: ['Sessions'],
        operationId: 'createSession',
        summary: 'Create a session',
        description:
          'Creates a named session with its own workspace folder under APPROVED_DIRECTORY. Its Claude Code process starts on the first chat.',
        body: CreateSessionBody,
        response: { 201: Envelope(SessionSchema), ...problemResponses(400, 401, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const row = await sessions.create(request.tenant, {
        ...body,
        allowed_tools: toolsOf(body.allowed_tools),
        disallowed_tools: toolsOf(body.disallowed_tools),
      });
      reply.code(201).header('location', `/api/v1/sessions/${encodeURIComponent(row.name)}`);
      return ok(request, view(row));
    },
  );

  app.get(
    '/sessions',
    {
      schema: {
        tags: ['Sessions'],
        operationId: 'listSessions',
        summary: 'List sessions',
        description:
          "The caller's sessions, newest first. An admin key sees every tenant's (each with its `owner`), or one tenant's with X-Tenant.",
        querystring: SessionListQuery,
        response: { 200: ListEnvelope(SessionSchema), ...problemResponses(401, 422) },
      },
    },
    async (request) => {
      const p = pageOf(request.query);
      const result = await sessions.list(ownerFilter(request), p.offset, p.limit, request.query.user_id);
      const items = result.items.map(view);
      return ok(request, items, paginationOf(p, result.total));
    },
  );

  app.get(
    '/sessions/:name',
    {
      schema: {
        tags: ['Sessions'],
        operationId: 'getSession',
        summary: 'Get a session',
        params: SessionNameParams,
        response: { 200: Envelope(SessionSchema), ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => {
      const row = await sessions.get(request.tenant, request.params.name);
      return ok(request, view(row));
    },
  );

  app.delete(
    '/sessions/:name',
    {
      schema: {
        tags: ['Sessions'],
        operationId: 'deleteSession',
        summary: 'Delete a session',
        description:
          'Interrupts its turn if one runs, stops its Claude Code process and deletes its history. `purge=true` also deletes its workspace folder.',
        params: SessionNameParams,
        querystring: DeleteQuery,
        response: { 204: { type: 'null', description: 'Deleted.' }, ...problemResponses(401, 404, 422) },
      },
    },
    async (request, reply) => {
      await sessions.remove(request.tenant, request.params.name, request.query.purge);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/sessions/:name/repo',
    {
      schema: {
        tags: ['Sessions'],
        operationId: 'changeWorkingDirectory',
        summary: 'Change the working directory',
        description:
          'Points the session at another folder inside APPROVED_DIRECTORY (resolved with realpath). The conversation continues there.',
        params: SessionNameParams,
        body: RepoBody,
        response: { 200: Envelope(SessionSchema), ...problemResponses(400, 401, 404, 409, 413, 415, 422) },
      },
    },
    async (request) => {
      const row = await sessions.changeWorkingDir(request.tenant, request.params.name, request.body.working_dir);
      return ok(request, view(row));
    },
  );
}

export default routePlugin('session-routes', sessionRoutes, ['idempotency']);
