// JSON bodies as the Python seed's clients send them: an empty body (Content-Type on every request) where a route takes none, and `null` for a member they leave unset.
import type { FastifyInstance } from 'fastify';

/**
 * Replaces Fastify's JSON parser with the same parser (prototype poisoning refused) that lets an empty body through
 * as no body when the route declares no body schema (where a route takes a body, an empty one stays a 400), and
 * drops the top-level `null` members of a JSON object body on the API's routes before validation, so
 * `{"name": "x", "template": null}` is `{"name": "x"}` (pydantic's Optional, which the seed's API took).
 */
export function seedJsonBodies(app: FastifyInstance, apiPrefix: string): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.routeOptions.schema?.body === undefined) {
      done(null, undefined);
      return;
    }
    void json(request, body as string, done);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const body = request.body;
    if (body && typeof body === 'object' && !Array.isArray(body) && request.routeOptions.url?.startsWith(apiPrefix)) {
      const members = body as Record<string, unknown>;
      request.body = Object.fromEntries(Object.entries(members).filter(([, value]) => value !== null));
    }
    done();
  });
}
