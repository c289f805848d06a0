// JSON bodies: an empty body sent with `Content-Type: application/json` is no body on routes that take none (DELETE, cancel …), as the Python seed's clients send it on every request.
import type { FastifyInstance } from 'fastify';

/**
 * Replaces Fastify's JSON parser with the same parser (prototype poisoning refused) that lets an empty body through
 * as no body when the route declares no body schema. Where a route takes a body, an empty one stays a 400.
 */
export function allowEmptyJsonWithoutBody(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.routeOptions.schema?.body === undefined) return done(null, undefined);
    json(request, body as string, done);
  });
}
