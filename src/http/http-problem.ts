// HttpProblem and its helpers: throw one from a route or hook and the problem plugin renders it as application/problem+json.
import { ProblemError } from '../problems.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** One failed check of a request, as listed in a 422 problem's `errors`. */
export interface FieldError {
  location: 'body' | 'query' | 'params' | 'headers';
  /** JSON pointer into that part of the request ('' = the part itself). */
  pointer: string;
  message: string;
}

/** Slug and title of each status this API answers with, for problems built from a bare status. */
const STATUS_PROBLEMS: Record<number, { slug: string; title: string }> = {
  400: { slug: 'bad-request', title: 'Bad request' },
  401: { slug: 'unauthorized', title: 'Unauthorized' },
  403: { slug: 'forbidden', title: 'Forbidden' },
  404: { slug: 'not-found', title: 'Not found' },
  405: { slug: 'method-not-allowed', title: 'Method not allowed' },
  406: { slug: 'not-acceptable', title: 'Not acceptable' },
  409: { slug: 'conflict', title: 'Conflict' },
  410: { slug: 'gone', title: 'Gone' },
  413: { slug: 'payload-too-large', title: 'Payload too large' },
  415: { slug: 'unsupported-media-type', title: 'Unsupported media type' },
  416: { slug: 'range-not-satisfiable', title: 'Range not satisfiable' },
  422: { slug: 'validation-failed', title: 'Validation failed' },
  429: { slug: 'too-many-requests', title: 'Too many requests' },
  500: { slug: 'internal-error', title: 'Internal server error' },
  502: { slug: 'bad-gateway', title: 'Bad gateway' },
  503: { slug: 'service-unavailable', title: 'Service unavailable' },
  504: { slug: 'gateway-timeout', title: 'Gateway timeout' },
};

/** Slug and title for a status; unknown 4xx/5xx fall back to the generic client / server error. */
export function statusProblem(status: number): { slug: string; title: string } {
  return (
    STATUS_PROBLEMS[status] ??
    (status >= 500 ? { slug: 'internal-error', title: 'Server error' } : { slug: 'bad-request', title: 'Client error' })
  );
}

export interface HttpProblemOptions {
  /** Problem type slug (`/problems/<slug>`); defaults to the status's own. */
  slug?: string;
  /** Short, fixed summary of the problem type; defaults to the status's own. */
  title?: string;
  /** Extra members of the problem document (`errors`, `limit_bytes` …). */
  extra?: Record<string, unknown>;
  /** Response headers to send with the problem (`Retry-After`, `WWW-Authenticate` …). */
  headers?: Record<string, string>;
}

/** A failure with its HTTP status: `detail` is shown to the client, so it must never hold secrets. */
export class HttpProblem extends ProblemError {
  override name = 'HttpProblem';
  readonly headers: Record<string, string>;

  constructor(status: number, detail: string, opts: HttpProblemOptions = {}) {
    const known = statusProblem(status);
    super(status, opts.slug ?? known.slug, opts.title ?? known.title, detail, opts.extra ?? {});
    this.headers = opts.headers ?? {};
  }

  get detail(): string {
    return this.message;
  }
}

export const badRequest = (detail: string, slug = 'bad-request') => new HttpProblem(400, detail, { slug });

export const unauthorized = (detail: string, slug = 'unauthorized') =>
  new HttpProblem(401, detail, { slug, headers: { 'WWW-Authenticate': 'Bearer' } });

export const forbidden = (detail: string) => new HttpProblem(403, detail);

/** 404 for a named thing, e.g. notFound(`Session 'x'`) → "Session 'x' was not found." */
export const notFound = (what: string) => new HttpProblem(404, `${what} was not found.`);

export const conflict = (detail: string, slug = 'conflict') => new HttpProblem(409, detail, { slug });

export const payloadTooLarge = (limitBytes: number) =>
  new HttpProblem(413, `The request body is larger than the limit of ${limitBytes} bytes (BODY_LIMIT_MB).`, {
    extra: { limit_bytes: limitBytes },
  });

export const unsupportedMediaType = (detail: string) => new HttpProblem(415, detail);

/** 422 with the list of failed checks; `detail` summarizes them. */
export const unprocessable = (detail: string, errors: FieldError[] = []) =>
  new HttpProblem(422, detail, { extra: { errors } });

/** 429 with Retry-After (whole seconds, at least 1). */
export const tooManyRequests = (detail: string, retryAfterSeconds: number) =>
  new HttpProblem(429, detail, { headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });

export const serviceUnavailable = (detail: string, retryAfterSeconds?: number) =>
  new HttpProblem(
    503,
    detail,
    retryAfterSeconds === undefined
      ? {}
      : { headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) } },
  );
