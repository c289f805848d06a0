// Request ids: keep a well-formed client X-Request-ID or mint a UUID, and echo it on every response.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fp from 'fastify-plugin';

export const REQUEST_ID_HEADER = 'x-request-id';
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** Fastify `genReqId`: the client's X-Request-ID when it matches `^[A-Za-z0-9._:-]{1,128}$`, else a new UUID. */
export function requestIdOf(raw: IncomingMessage): string {
  const given = raw.headers[REQUEST_ID_HEADER];
  const value = Array.isArray(given) ? given[0] : given;
  return value !== undefined && WELL_FORMED.test(value) ? value : randomUUID();
}

export default fp(
  async (app) => {
    // Set through Fastify only (a raw setHeader would send every response down Node's slower header merge);
    // responses that are taken over get it with the others from hijackWithHeaders.
    app.addHook('onRequest', (request, reply, done) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      done();
    });
    // Router-level failures never pass onRequest: frameworkErrors (plugins/problem-responses.ts) sets it on those.
  },
  { name: 'request-id', fastify: '5.x' },
);
