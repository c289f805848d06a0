// Errors in the wire formats of the compatible endpoints: OpenAI `{error:{message,type,param,code}}`, Anthropic `{type:"error",error:{type,message}}`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { problemType, type ProblemDoc } from '../../problems.js';
import { HttpProblem, statusProblem } from '../http-problem.js';
import { problemOf } from '../plugins/problem-responses.js';

export type WireFormat = 'openai' | 'anthropic';

/** A request parameter this server refuses (400), naming it as `param`. */
export function paramError(param: string, message: string, slug = 'unsupported-parameter'): HttpProblem {
  return new HttpProblem(400, message, { slug, title: 'Unsupported parameter', extra: { param } });
}

/** The Messages API form answers every /v1/messages call and any request that sends `anthropic-version`. */
export function formatOf(request: FastifyRequest): WireFormat {
  const path = request.url.split('?')[0] ?? '';
  return path.startsWith('/v1/messages') || request.headers['anthropic-version'] !== undefined ? 'anthropic' : 'openai';
}

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'invalid_request_error',
  413: 'request_too_large',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'overloaded_error',
  504: 'timeout_error',
};

/** The statuses a turn through a compatible endpoint may fail with. */
export const COMPAT_TURN_ERRORS = [400, 401, 404, 409, 413, 415, 422, 429, 502, 503, 504] as const;

const OpenAiErrorBody = Type.Object(
  {
    error: Type.Object({
      message: Type.String(),
      type: Type.String(),
      param: Type.Union([Type.String(), Type.Null()]),
      code: Type.String({ description: 'The problem type slug with `_` (e.g. `session_busy`).' }),
    }),
  },
  { title: 'OpenAI error', additionalProperties: true },
);

const AnthropicErrorBody = Type.Object(
  {
    type: Type.Literal('error'),
    error: Type.Object({ type: Type.String(), message: Type.String() }),
    request_id: Type.String(),
  },
  { title: 'Anthropic error', additionalProperties: true },
);

/** Response-schema entries documenting the compat error statuses in both wire formats (Anthropic's for /v1/messages or with `anthropic-version`). */
export function wireErrorResponses(...statuses: number[]) {
  const schema = Type.Union([OpenAiErrorBody, AnthropicErrorBody]);
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: statusProblem(status).title, content: { 'application/json': { schema } } },
    ]),
  );
}

/**
 * A compat route's 200: a JSON object of the upstream API's shape (documented by OpenAI and Anthropic, not restated
 * here), or with `stream: true` that API's event stream.
 */
export function wireAnswer(description: string, streams: boolean) {
  const json = { 'application/json': { schema: Type.Object({}, { additionalProperties: true }) } };
  const sse = { 'text/event-stream': { schema: Type.String({ description: "The upstream API's stream events." }) } };
  return { description, content: streams ? { ...json, ...sse } : json };
}

/** `/problems/session-busy` → `session_busy`. */
function codeOf(doc: ProblemDoc): string {
  return doc.type.replace(/^\/problems\//, '').replace(/-/g, '_');
}

/** The error body of a problem in one wire format. */
export function wireError(format: WireFormat, doc: ProblemDoc, requestId: string): Record<string, unknown> {
  if (format === 'anthropic') {
    const type = ANTHROPIC_TYPES[doc.status] ?? (doc.status >= 500 ? 'api_error' : 'invalid_request_error');
    return { type: 'error', error: { type, message: doc.detail }, request_id: requestId };
  }
  const type = OPENAI_TYPES[doc.status] ?? (doc.status >= 500 ? 'server_error' : 'invalid_request_error');
  const param = typeof doc.param === 'string' ? doc.param : null;
  return { error: { message: doc.detail, type, param, code: codeOf(doc) } };
}

/** The compat routes' error handler: any failure, as the problem plugin would see it, in the request's wire format. */
export function sendWireError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { doc, headers, unexpected } = problemOf(error, request);
  if (unexpected) request.log.error({ err: error }, 'unhandled error');
  else if (doc.status >= 500) request.log.warn({ problem: doc.type, detail: doc.detail }, 'request failed');
  if (reply.sent || reply.raw.headersSent) return reply;
  // The official clients retry 409 and 429 with back-off: say so when waiting cannot help (a spent budget, a template mismatch).
  const waitHelps = headers['Retry-After'] !== undefined || doc.type === problemType('session-busy');
  const final = (doc.status === 409 || doc.status === 429) && !waitHelps ? { 'x-should-retry': 'false' } : {};
  return reply
    .code(doc.status)
    .headers({ ...headers, ...final })
    .type('application/json')
    .send(JSON.stringify(wireError(formatOf(request), doc, request.id)));
}
