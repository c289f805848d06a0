// API key auth: every matched route needs a valid key unless its route options say `config: { public: true }`; sets request.tenant.
import fp from 'fastify-plugin';
import type { Config } from '../../config/index.js';
import { ApiKeyRing, presentedKey, tenantOf } from '../../security/api-keys.js';
import { unauthorized } from '../problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without an API key (health, docs, the OpenAPI document). */
    public?: boolean;
  }
}

/** The tenant of every request in open mode (no API_KEYS). */
export const OPEN_TENANT = 'local';

export interface AuthOptions {
  config: Pick<Config, 'apiKeys'>;
}

/**
 * Policy: deny by default. A request that matched a route needs a key unless the route is public.
 * A request that matched no route is answered 404 without asking for a key: which paths exist is no secret
 * (they are in /openapi.json), and a 404 is more useful to a client than a misleading 401.
 */
export default fp<AuthOptions>(
  async (app, { config }) => {
    const ring = new ApiKeyRing(config.apiKeys);
    app.decorateRequest('tenant', '');

    app.addHook('onRequest', async (request) => {
      if (ring.open) {
        request.tenant = OPEN_TENANT;
        return;
      }
      const key = presentedKey(request.headers);
      if (request.is404 || request.routeOptions.config.public) {
        // No key needed; a valid one still names the tenant in the request log.
        if (key !== undefined && ring.matches(key)) request.tenant = tenantOf(key);
        return;
      }
      if (key === undefined) {
        throw unauthorized('No API key: send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`.', 'missing-api-key');
      }
      if (!ring.matches(key)) throw unauthorized('The API key is not valid.', 'invalid-api-key');
      request.tenant = tenantOf(key);
    });
  },
  { name: 'auth', fastify: '5.x' },
);
