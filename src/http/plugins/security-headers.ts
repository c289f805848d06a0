// Security headers (helmet, with a CSP Swagger UI works under) and CORS from CORS_ORIGINS (none = no CORS headers).
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import type { Config } from '../../config/index.js';

export interface SecurityHeadersOptions {
  config: Pick<Config, 'corsOrigins'>;
}

/** Headers a browser client may send and read across origins. */
export const CORS_ALLOWED_HEADERS = [
  'Content-Type',
  'X-API-Key',
  'Authorization',
  'Last-Event-ID',
  'X-Request-ID',
  'Idempotency-Key',
  'X-Tenant',
];
export const CORS_EXPOSED_HEADERS = [
  'X-Request-ID',
  'X-Turn-ID',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'Retry-After',
  'Location',
];

/**
 * The API answers JSON and the docs page loads only its own scripts, so the policy is "self" everywhere; Swagger UI
 * needs inline styles and data: images. No `upgrade-insecure-requests`: it would break the docs on plain-HTTP hosts.
 */
export const CONTENT_SECURITY_POLICY = {
  useDefaults: false,
  directives: {
    defaultSrc: ["'self'"],
    baseUri: ["'self'"],
    connectSrc: ["'self'"],
    fontSrc: ["'self'", 'data:'],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    imgSrc: ["'self'", 'data:'],
    objectSrc: ["'none'"],
    scriptSrc: ["'self'"],
    scriptSrcAttr: ["'none'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
  },
};

/**
 * The headers helmet sets for these options. They depend on no request (no CSP nonces), so helmet's middleware runs
 * once, against a response that only records them, instead of being rebuilt and run for every request.
 */
export function helmetHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a record of headers by lower-cased name
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as unknown as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    failure = err;
  });
  if (failure) throw failure as Error;
  return Object.freeze(headers);
}

/** Registered first, so every answer (problems and preflights included) carries the headers. */
export default fp<SecurityHeadersOptions>(
  async (app, { config }) => {
    const headers = helmetHeaders({ contentSecurityPolicy: CONTENT_SECURITY_POLICY });
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers);
      done();
    });
    const origins = config.corsOrigins;
    if (origins.length === 0) return;
    await app.register(cors, {
      origin: origins.includes('*') ? '*' : origins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      credentials: false,
      maxAge: 600,
      strictPreflight: false,
    });
  },
  { name: 'security-headers', fastify: '5.x' },
);
