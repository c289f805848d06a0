// API key auth: every matched route needs a valid key unless `config: { public: true }`; sets request.tenant, scope and apiKey.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isAdmin, presentedKey, type ApiKeyPrincipal, type KeyScope } from '../../security/api-keys.js';
import type { KeyService } from '../../security/keys-service.js';
import type { ChatCaller } from '../../sessions/service.js';
import { HttpProblem, unauthorized } from '../http-problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without an API key (health, docs, the OpenAPI document). */
    public?: boolean;
    /** Only admin keys may call it: a user key gets 403 before anything else is checked. */
    admin?: boolean;
  }
  interface FastifyRequest {
    /** `admin` or `user` once authenticated (open mode is `admin`); '' on public routes without a valid key. */
    scope: KeyScope | '';
    /** The key that authenticated the request (id, scope, tenant, own rate limit and budget); undefined in open mode. */
    apiKey: ApiKeyPrincipal | undefined;
    /** True when an admin key acts for another tenant through the X-Tenant header. */
    actingAsTenant: boolean;
  }
  interface FastifyInstance {
    /** Counts an unauthenticated request against its IP's rate limit; throws the 429 problem when over (set by the rate-limit plugin). */
    limitAnonymous?: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
}

/** The tenant of every request in open mode (no keys configured or stored). */
export const OPEN_TENANT = 'local';

/** Header an admin key sends to act as another tenant. */
export const TENANT_HEADER = 'x-tenant';
const TENANT_ID = /^(local|k_[0-9a-f]{16})$/;

export interface AuthOptions {
  /** The key rules: the configured keys and the stored ones. */
  keys: KeyService;
}

const forbidden = (detail: string, slug = 'forbidden') => new HttpProblem(403, detail, { slug });

/**
 * Policy: deny by default. A request that matched a route needs a key unless the route is public.
 * A request that matched no route is answered 404 without asking for a key: which paths exist is no secret
 * (they are in /openapi.json), and a 404 is more useful to a client than a misleading 401.
 * Failed attempts count against the caller's IP rate limit, so keys cannot be guessed at full speed.
 */
export default fp<AuthOptions>(
  async (app, { keys }) => {
    app.decorateRequest('tenant', '');
    app.decorateRequest('scope', '');
    app.decorateRequest('apiKey', undefined);
    app.decorateRequest('actingAsTenant', false);

    const refuse = async (request: FastifyRequest, reply: FastifyReply, problem: HttpProblem): Promise<never> => {
      await app.limitAnonymous?.(request, reply);
      throw problem;
    };

    app.addHook('onRequest', async (request, reply) => {
      // routeOptions is built anew at each access: read once.
      const route = request.routeOptions.config;
      const isPublic = request.is404 || route.public === true;
      if (await keys.isOpen()) {
        request.tenant = OPEN_TENANT;
        request.scope = 'admin';
      } else {
        const key = presentedKey(request.headers);
        if (key === undefined) {
          if (isPublic) return;
          return refuse(
            request,
            reply,
            unauthorized(
              'No API key: send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.',
              'missing-api-key',
            ),
          );
        }
        const outcome = await keys.authenticate(key);
        if (!outcome.ok) {
          // No key needed here; an invalid one does not fail a public route.
          if (isPublic) return;
          const problem =
            outcome.reason === 'revoked'
              ? unauthorized('The API key has been revoked.', 'revoked-api-key')
              : unauthorized('The API key is not valid.', 'invalid-api-key');
          return refuse(request, reply, problem);
        }
        request.apiKey = outcome.principal;
        request.tenant = outcome.principal.tenant;
        request.scope = outcome.principal.scope;
      }
      if (isPublic) return;
      const actAs = request.headers[TENANT_HEADER];
      if (actAs !== undefined) {
        const value = Array.isArray(actAs) ? actAs[0] : actAs;
        if (!isAdmin(request))
          throw forbidden('Only admin keys may act for another tenant (X-Tenant).', 'tenant-forbidden');
        if (value === undefined || !TENANT_ID.test(value)) {
          throw new HttpProblem(400, 'X-Tenant must be a tenant id: `local` or `k_` followed by 16 hex digits.', {
            slug: 'bad-tenant',
          });
        }
        request.tenant = value;
        request.actingAsTenant = true;
      }
      if (route.admin === true && !isAdmin(request)) {
        throw forbidden(
          'This route needs an admin key (ADMIN_API_KEYS or a key created with scope admin).',
          'admin-only',
        );
      }
    });
  },
  { name: 'auth', fastify: '5.x', dependencies: ['rate-limit'] },
);

/** Who asks for a turn: the key's own budget, and the key, request id and address its audit rows name. */
export function callerOf(request: FastifyRequest): ChatCaller {
  return {
    keyId: request.apiKey?.id ?? null,
    keyBudgetUsd: request.apiKey?.budgetUsd,
    actor: { keyId: request.apiKey?.id ?? null, requestId: request.id, ip: request.ip },
  };
}

/** Lists span every tenant for an admin that does not act for one tenant; otherwise the caller's tenant only. */
export function ownerFilter(request: FastifyRequest): string | null {
  return isAdmin(request) && !request.actingAsTenant ? null : request.tenant;
}
