// API key routes (admin only): create a key (its secret shown once), list keys, get one, revoke one.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { KeyInfo, KeyService } from '../../security/keys-service.js';
import { ok, pageOf, paginationOf } from '../envelope.js';
import { HttpProblem } from '../http-problem.js';
import { Envelope, ListEnvelope, PaginationQuery, problemResponses } from '../schemas/common.js';
import { CreatedKeySchema, CreateKeyBody, KeyIdParams, KeySchema } from '../schemas/keys.js';
import { routePlugin } from '../route-plugin.js';

export function keyView(k: KeyInfo) {
  return {
    id: k.id,
    name: k.name,
    scope: k.scope,
    tenant: k.tenant,
    source: k.source,
    prefix: k.prefix,
    rate_limit: k.rateLimit,
    budget_usd: k.budgetUsd,
    created_at: k.created_at,
    last_used_at: k.last_used_at,
    revoked_at: k.revoked_at,
  };
}

const ADMIN = { admin: true } as const;

/** What the keys routes use. */
export type KeyRoutesDeps = { keys: KeyService };

async function keyRoutes(fastify: FastifyInstance, deps: KeyRoutesDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { keys } = deps;

  app.post(
    '/keys',
    {
      config: { ...ADMIN, audit: 'key.create' },
      schema: {
        tags: ['Keys'],
        operationId: 'createKey',
        summary: 'Create an API key',
        description:
          'Admin only. Creates a key with its own tenant. The secret is in this response only; the server keeps just its SHA-256. Refused in open mode (403 `/problems/open-mode`): the first key comes from ADMIN_API_KEYS or `claude-code-api keys create`.',
        body: CreateKeyBody,
        response: { 201: Envelope(CreatedKeySchema), ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      // Open mode: whoever reaches the server would otherwise mint the first admin key.
      if (request.apiKey === undefined) {
        throw new HttpProblem(
          403,
          'Keys cannot be created over HTTP in open mode: set ADMIN_API_KEYS, or create the first key with `claude-code-api keys create` on the server.',
          { slug: 'open-mode', title: 'Not allowed in open mode' },
        );
      }
      const b = request.body;
      const { key, secret } = await keys.create({
        name: b.name,
        scope: b.scope ?? 'user',
        rateLimit: b.rate_limit ?? null,
        budgetUsd: b.budget_usd ?? null,
      });
      reply.code(201).header('location', `/api/v1/keys/${key.id}`).header('cache-control', 'no-store');
      return ok(request, { ...keyView(key), secret });
    },
  );

  app.get(
    '/keys',
    {
      config: ADMIN,
      schema: {
        tags: ['Keys'],
        operationId: 'listKeys',
        summary: 'List API keys',
        description:
          'Admin only. Keys from API_KEYS / ADMIN_API_KEYS first, then created ones (revoked ones too, with `revoked_at`). Never shows secrets.',
        querystring: PaginationQuery,
        response: { 200: ListEnvelope(KeySchema), ...problemResponses(401, 403, 422, 429) },
      },
    },
    async (request) => {
      const p = pageOf(request.query);
      const page = await keys.list({ offset: p.offset, limit: p.limit });
      return ok(request, page.items.map(keyView), paginationOf(p, page.total));
    },
  );

  app.get(
    '/keys/:id',
    {
      config: ADMIN,
      schema: {
        tags: ['Keys'],
        operationId: 'getKey',
        summary: 'Get an API key',
        description: 'Admin only.',
        params: KeyIdParams,
        response: { 200: Envelope(KeySchema), ...problemResponses(401, 403, 404, 422, 429) },
      },
    },
    async (request) => ok(request, keyView(await keys.get(request.params.id))),
  );

  app.delete(
    '/keys/:id',
    {
      config: ADMIN,
      schema: {
        tags: ['Keys'],
        operationId: 'revokeKey',
        summary: 'Revoke an API key',
        description:
          'Admin only. The key fails from its next request on, on every instance within KEY_REVOCATION_CHECK_SECONDS (at once with Redis); its open streams end, its running turns are interrupted, its running jobs and queued jobs fail. Its row stays, marked revoked; revoking again changes nothing. Keys from the environment cannot be revoked here (409).',
        params: KeyIdParams,
        response: { 204: { type: 'null', description: 'Revoked.' }, ...problemResponses(401, 403, 404, 409, 422, 429) },
      },
    },
    async (request, reply) => {
      await keys.revoke(request.params.id);
      return reply.code(204).send(null);
    },
  );
}

export default routePlugin('key-routes', keyRoutes);
