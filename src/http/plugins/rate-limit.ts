// Rate limits (@fastify/rate-limit): RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW per API key (its own limit if it has one), per IP without a valid key.
import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Config } from '../../config/index.js';
import { HttpProblem } from '../http-problem.js';
import { counterStore } from './rate-limit-store.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts `count` more requests of this caller against its rate limit (an MCP batch counts each call); throws the
     * 429 problem when that passes the limit. Set by the rate-limit plugin (absent when RATE_LIMIT_REQUESTS=0).
     */
    limitMore?: (request: FastifyRequest, count: number) => Promise<void>;
  }
}

export interface RateLimitOptions {
  config: Pick<Config, 'rateLimit' | 'redis'>;
  /** Shared counters (REDIS_URL); in memory when absent. */
  redis?: Redis;
  /** Requests not counted here (one another node of the cluster forwarded, after counting it). */
  exempt?: (request: FastifyRequest) => boolean;
}

/** While Redis fails, say so at most this often. */
const FALLBACK_WARNING_MS = 30_000;

/** Who a request's count belongs to: its key, else its IP. */
export function rateLimitKey(request: FastifyRequest): string {
  return request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`;
}

/** The 429 problem: Retry-After, and the limit that was hit. */
function exceeded(max: number, windowSeconds: number, ttlMs: number): HttpProblem {
  const retry = Math.max(1, Math.ceil(ttlMs / 1000));
  return new HttpProblem(429, `More than ${max} requests in ${windowSeconds} s; retry in ${retry} s.`, {
    headers: { 'Retry-After': String(retry) },
    extra: { limit: max, window_seconds: windowSeconds },
  });
}

/**
 * Auth (which calls its `limitAnonymous` on a failed attempt) and every route module (it hooks each route added
 * after it) name it in their `dependencies`, so Fastify checks at boot that it comes first. Its per-route check runs
 * after auth, so it knows the key.
 * Public routes (health, docs, the OpenAPI document) are exempt. RATE_LIMIT_REQUESTS=0 turns all of it off.
 */
export default fp<RateLimitOptions>(
  async (app, { config, redis, exempt }) => {
    const { requests, windowMs } = config.rateLimit;
    if (requests === 0) return;
    const windowSeconds = windowMs / 1000;
    let lastWarning = 0;

    await app.register(rateLimit, {
      global: true,
      timeWindow: windowMs,
      max: (request: FastifyRequest) => request.apiKey?.rateLimit ?? requests,
      keyGenerator: rateLimitKey,
      allowList: (request: FastifyRequest) => request.routeOptions.config.public === true || exempt?.(request) === true,
      // Redis down: each instance counts in its own memory until it is back, rather than not at all.
      store: counterStore({
        redis,
        nameSpace: `${config.redis.keyPrefix}rl:`,
        onFallback: (err) => {
          const now = Date.now();
          if (now - lastWarning < FALLBACK_WARNING_MS) return;
          lastWarning = now;
          app.log.warn(
            { err: err.message },
            'Redis rate-limit counters failed: counting in this process until it is back',
          );
        },
      }),
      skipOnError: false,
      errorResponseBuilder: (_request, context) => exceeded(context.max, windowSeconds, context.ttl),
    });

    const anonymous = app.createRateLimit({
      keyGenerator: (request: FastifyRequest) => `anon:${request.ip}`,
      max: requests,
      timeWindow: windowMs,
    });

    // No options: the global limiter itself (same counters, key and limit as every route's own check).
    const global = app.createRateLimit();
    app.decorate('limitMore', async (request: FastifyRequest, count: number) => {
      for (let i = 0; i < count; i++) {
        const r = await global(request);
        if (r.isAllowed) return;
        if (r.isExceeded) throw exceeded(r.max, windowSeconds, r.ttl);
      }
    });

    app.decorate('limitAnonymous', async (request: FastifyRequest, reply: FastifyReply) => {
      const r = await anonymous(request);
      if (r.isAllowed) return;
      reply.header('x-ratelimit-limit', r.max);
      reply.header('x-ratelimit-remaining', r.remaining);
      reply.header('x-ratelimit-reset', r.ttlInSeconds);
      if (r.isExceeded) throw exceeded(r.max, windowSeconds, r.ttl);
    });
  },
  { name: 'rate-limit', fastify: '5.x' },
);
