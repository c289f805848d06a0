// How a route module becomes a Fastify plugin: named, encapsulated, given only the services it uses, and checked at boot to come after the plugins its routes rely on.
import type { FastifyPluginAsync, FastifyPluginOptions } from 'fastify';
import fp from 'fastify-plugin';

/**
 * The plugins every route relies on: request ids and problem documents for its answers, the OpenAPI document that
 * lists it, the audit trail, the rate limit (which hooks each route added after it) and auth (`request.tenant`).
 */
export const ROUTE_DEPENDENCIES = ['request-id', 'problem-responses', 'openapi', 'audit', 'rate-limit', 'auth'];

/**
 * A route module as a plugin named `name`: Fastify refuses to boot when one of ROUTE_DEPENDENCIES or `more` (such
 * as `idempotency`, which hooks the routes added after it) is not registered before it.
 */
export function routePlugin<Deps extends FastifyPluginOptions>(
  name: string,
  routes: FastifyPluginAsync<Deps>,
  more: readonly string[] = [],
): FastifyPluginAsync<Deps> {
  return fp(routes, { name, fastify: '5.x', encapsulate: true, dependencies: [...ROUTE_DEPENDENCIES, ...more] });
}
