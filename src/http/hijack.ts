// Taking a response over from Fastify (SSE, MCP) without losing the headers its hooks set: request id, security and rate-limit headers.
import type { FastifyReply } from 'fastify';

/** Hijacks the reply and moves every header set so far through Fastify onto the raw response. */
export function hijackWithHeaders(reply: FastifyReply): void {
  reply.hijack();
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) reply.raw.setHeader(name, value);
  }
}
