// The error and not-found handlers: every failure leaves as an application/problem+json document with request id and path.
import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import fp from 'fastify-plugin';
import { EngineError } from '../../engine/errors.js';
import { problemType, ProblemError, type ProblemDoc } from '../../problems.js';
import { HttpProblem, PROBLEM_CONTENT_TYPE, statusProblem, type FieldError } from '../http-problem.js';

type Location = FieldError['location'];
const LOCATIONS: Record<string, Location> = {
  body: 'body',
  querystring: 'query',
  query: 'query',
  params: 'params',
  headers: 'headers',
};

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** One Ajv error as `{ location, pointer, message }`, pointing at the offending property where Ajv names it. */
export function fieldErrorOf(location: Location, e: FastifySchemaValidationError): FieldError {
  const params = e.params;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- errors of a custom compiler may lack it
  let pointer = e.instancePath ?? '';
  let message = e.message ?? 'is invalid';
  switch (e.keyword) {
    case 'required':
      // Ajv's own message reads well ("must have required property 'message'"); point at the missing property.
      if (typeof params.missingProperty === 'string') pointer += `/${escapePointer(params.missingProperty)}`;
      break;
    case 'additionalProperties':
      if (typeof params.additionalProperty === 'string') {
        pointer += `/${escapePointer(params.additionalProperty)}`;
        message = 'is not an allowed property';
      }
      break;
    case 'enum':
      if (Array.isArray(params.allowedValues))
        message = `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
      break;
    case 'const':
      message = `must be ${JSON.stringify(params.allowedValue)}`;
      break;
  }
  return { location, pointer, message };
}

function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q < 0 ? request.url : request.url.slice(0, q);
}

/** The problem document of a request as sent: the doc with its `instance` and `request_id`, as JSON text. */
export function problemBody(request: FastifyRequest, doc: ProblemDoc): string {
  return JSON.stringify({ ...doc, instance: pathOf(request), request_id: request.id });
}

function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  doc: ProblemDoc,
  headers: Record<string, string> = {},
): FastifyReply {
  reply.code(doc.status).headers(headers).type(PROBLEM_CONTENT_TYPE);
  // Sent as a string so no route response schema can reshape or strip it.
  return reply.send(problemBody(request, doc));
}

function statusDoc(status: number, detail: string, extra: Record<string, unknown> = {}): ProblemDoc {
  const { slug, title } = statusProblem(status);
  return { type: problemType(slug), title, status, detail, ...extra };
}

/** SQLite busy/locked, or PostgreSQL unreachable/overloaded: a passing condition worth a retry, not a server bug. */
const SQLITE_BUSY = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED']);
const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006']);
const NET_DOWN = new Set(['ECONNREFUSED']); // a PostgreSQL server that is not there

export function databaseUnavailable(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (SQLITE_BUSY.has(code)) return 'The database is busy (locked by another writer); try again shortly.';
  if (PG_UNAVAILABLE.has(code) || NET_DOWN.has(code))
    return 'The database is unavailable right now; try again shortly.';
  return undefined;
}

/** The Retry-After header for a hint in seconds (whole seconds, at least 1); none without a hint. */
function retryAfter(seconds: number | undefined): Record<string, string> {
  return seconds === undefined ? {} : { 'Retry-After': String(Math.max(1, Math.ceil(seconds))) };
}

/** A failure's hint of when a retry may succeed, in whole seconds (what its Retry-After says), if it has one. */
export function retryAfterOf(error: unknown): number | undefined {
  const header = error instanceof HttpProblem ? error.headers['Retry-After'] : undefined;
  const seconds =
    header !== undefined
      ? Number(header)
      : error instanceof ProblemError
        ? error.retryAfterSeconds
        : error instanceof EngineError
          ? error.extra.retryAfterSeconds
          : undefined;
  return seconds === undefined || !Number.isFinite(seconds) ? undefined : Math.max(1, Math.ceil(seconds));
}

/** Maps any thrown value to a problem document and its headers. Unknown failures become a generic 500. */
export function problemOf(
  error: unknown,
  request: FastifyRequest,
): { doc: ProblemDoc; headers: Record<string, string>; unexpected: boolean } {
  if (error instanceof HttpProblem) return { doc: error.toProblem(), headers: error.headers, unexpected: false };
  if (error instanceof ProblemError)
    return { doc: error.toProblem(), headers: retryAfter(error.retryAfterSeconds), unexpected: false };
  if (error instanceof EngineError)
    return { doc: error.toProblem(), headers: retryAfter(error.extra.retryAfterSeconds), unexpected: false };
  const unavailable = databaseUnavailable(error);
  if (unavailable)
    return {
      doc: statusDoc(503, unavailable, { type: problemType('database-unavailable'), title: 'Database unavailable' }),
      headers: { 'Retry-After': '2' },
      unexpected: false,
    };
  const fe = error as Partial<FastifyError> | undefined;
  if (fe && Array.isArray(fe.validation)) {
    const location = LOCATIONS[fe.validationContext ?? 'body'] ?? 'body';
    const errors = fe.validation.map((e) => fieldErrorOf(location, e));
    const first = errors[0];
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    const detail = first
      ? `Invalid request ${location}: ${first.pointer || '(root)'} ${first.message}${more}.`
      : `Invalid request ${location}.`;
    return { doc: statusDoc(422, detail, { errors }), headers: {}, unexpected: false };
  }
  switch (fe?.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        doc: {
          ...statusDoc(400, 'The request body is not valid JSON.'),
          type: problemType('bad-json'),
          title: 'Malformed JSON',
        },
        headers: {},
        unexpected: false,
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        doc: {
          ...statusDoc(400, 'The request body is empty but Content-Type says JSON.'),
          type: problemType('bad-json'),
          title: 'Malformed JSON',
        },
        headers: {},
        unexpected: false,
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const limit = request.routeOptions.bodyLimit;
      return {
        doc: statusDoc(413, `The request body is larger than the limit of ${limit} bytes.`, { limit_bytes: limit }),
        headers: {},
        unexpected: false,
      };
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const given = (request.headers['content-type'] ?? '').slice(0, 100);
      return {
        doc: statusDoc(415, `Content-Type '${given}' is not supported; send application/json.`),
        headers: {},
        unexpected: false,
      };
    }
  }
  const status = fe?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Client errors raised by Fastify or a plugin describe the request, not the server: their message is safe to show.
    return { doc: statusDoc(status, fe?.message || statusProblem(status).title), headers: {}, unexpected: false };
  }
  return {
    doc: statusDoc(500, 'An unexpected error occurred. Quote the request_id when reporting it.'),
    headers: {},
    unexpected: true,
  };
}

/**
 * Fastify's own routing failures (a malformed percent-encoding, a path parameter past the router's limit) happen before
 * any hook runs: answer them as problem documents too, with the request id header the hooks would have set.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  const doc =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? { ...statusDoc(414, 'A path segment is too long.'), type: problemType('uri-too-long'), title: 'URI too long' }
      : error.code === 'FST_ERR_BAD_URL'
        ? {
            ...statusDoc(400, 'The URL is not valid (bad percent-encoding).'),
            type: problemType('bad-url'),
            title: 'Bad URL',
          }
        : statusDoc(400, 'The request could not be routed.');
  void sendProblem(request, reply, doc);
}

export default fp(
  async (app) => {
    app.setErrorHandler((error: unknown, request, reply) => {
      const { doc, headers, unexpected } = problemOf(error, request);
      if (unexpected) request.log.error({ err: error }, 'unhandled error');
      else if (doc.status >= 500) request.log.warn({ problem: doc.type, detail: doc.detail }, 'request failed');
      if (reply.sent || reply.raw.headersSent) return reply;
      return sendProblem(request, reply, doc, headers);
    });

    app.setNotFoundHandler((request, reply) =>
      sendProblem(request, reply, statusDoc(404, `No route ${request.method} ${pathOf(request)}.`)),
    );
  },
  { name: 'problem-responses', fastify: '5.x' },
);
