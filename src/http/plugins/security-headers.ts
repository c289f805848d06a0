// Security headers (@fastify/helmet, with a CSP Swagger UI works under) and CORS from CORS_ORIGINS (none = no CORS headers).
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import fp from 'fastify-plugin';
import type { Config } from '../../config/index.js';

export interface SecurityHeadersOptions {
  config: Pick<Config, 'corsOrigins'>;
}

/** Headers a browser client may send and read across origins. */
export const CORS_ALLOWED_HEADERS = ['Content-Type', 'X-API-Key', 'Authorization', 'Last-Event-ID', 'X-Request-ID', 'Idempotency-Key', 'X-Tenant'];
export const CORS_EXPOSED_HEADERS = ['X-Request-ID', 'X-Turn-ID', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Retry-After', 'Location'];

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

/** Registered first, so every answer (problems and preflights included) carries the headers. */
export default fp<SecurityHeadersOptions>(
  async (app, { config }) => {
    await app.register(helmet, { contentSecurityPolicy: CONTENT_SECURITY_POLICY });
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
