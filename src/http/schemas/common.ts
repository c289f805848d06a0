// Shared TypeBox schemas: the response envelope, list envelope with pagination, problem documents and the pagination query.
import { Type, type Static, type TProperties, type TSchema } from 'typebox';
import { PROBLEM_CONTENT_TYPE, statusProblem } from '../http-problem.js';

export const PaginationSchema = Type.Object(
  {
    page: Type.Integer({ minimum: 1, description: 'This page, from 1.' }),
    limit: Type.Integer({ minimum: 1, maximum: 100, description: 'Items per page.' }),
    total: Type.Integer({ minimum: 0, description: 'Items over all pages.' }),
    pages: Type.Integer({ minimum: 0, description: 'Number of pages.' }),
  },
  { additionalProperties: false },
);
export type Pagination = Static<typeof PaginationSchema>;

export const MetaSchema = Type.Object({
  request_id: Type.String({ description: 'The X-Request-ID of this request.' }),
  timestamp: Type.String({ format: 'date-time' }),
  version: Type.Literal('v1'),
});

export const ListMetaSchema = Type.Object({
  request_id: Type.String({ description: 'The X-Request-ID of this request.' }),
  timestamp: Type.String({ format: 'date-time' }),
  version: Type.Literal('v1'),
  pagination: PaginationSchema,
});

/** `{ data: <schema>, meta }`: the shape of every successful response. */
export function Envelope<T extends TSchema>(data: T) {
  return Type.Object({ data, meta: MetaSchema });
}

/** The seed's place for a list's pagination: at the top, beside `data` and `meta` (the same object as meta.pagination). */
const TopPagination = Type.Object(PaginationSchema.properties, {
  additionalProperties: false,
  description: "The same as meta.pagination, where the Python seed's clients read it.",
});

/**
 * `{ data: <item>[], meta: { …, pagination }, pagination }`: the shape of every list response; `extra` adds members
 * after those (the history's `session_id` and `count`, as the Python seed answered them).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- TypeBox's own idiom for "no extra properties"
export function ListEnvelope<T extends TSchema, E extends TProperties = {}>(item: T, extra?: E) {
  return Type.Object({
    data: Type.Array(item),
    meta: ListMetaSchema,
    pagination: TopPagination,
    ...((extra ?? {}) as E),
  });
}

/** `{ data: { <name>: <item> }, meta: { …, pagination }, pagination }`: a list keyed by name (templates, as the seed lists them). */
export function MapEnvelope<T extends TSchema>(item: T) {
  return Type.Object({ data: Type.Record(Type.String(), item), meta: ListMetaSchema, pagination: TopPagination });
}

export const FieldErrorSchema = Type.Object({
  location: Type.Enum(['body', 'query', 'params', 'headers'], { type: 'string' }),
  pointer: Type.String({ description: 'JSON pointer into that part of the request.' }),
  message: Type.String(),
});

/** An RFC 9457 problem document as this API sends it (extra members allowed). */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'Problem type, `/problems/<slug>`.' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String({ description: 'The request path.' }),
    request_id: Type.String(),
    errors: Type.Optional(Type.Array(FieldErrorSchema, { description: 'Failed checks (422 only).' })),
  },
  { additionalProperties: true },
);
export type Problem = Static<typeof ProblemSchema>;

/**
 * The problem document as a shared schema (`components/schemas/Problem` in the OpenAPI document), added once to the
 * app by the OpenAPI plugin; error responses refer to it instead of repeating it on every route.
 */
export const SharedProblemSchema = { ...ProblemSchema, $id: 'Problem' };
const ProblemRef = { $ref: 'Problem#' } as const;

/**
 * Query string of list endpoints: `page` ≥ 1 (default 1), `limit` 1..100 (default 20), coerced from strings.
 * The defaults are filled in by validation; `pageOf(query)` gives them typed as numbers.
 * To add more parameters: `Type.Object({ ...PaginationQuery.properties, status: … })`.
 */
export const PaginationQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1, description: 'Page number, from 1.' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Items per page (1–100).' })),
});
export type PaginationQueryType = Static<typeof PaginationQuery>;

/**
 * Response-schema entries documenting error statuses as `application/problem+json`, to spread into a route's
 * `response`: `response: { 200: Envelope(X), ...problemResponses(404, 422) }`.
 */
export function problemResponses(...statuses: number[]) {
  const out: Record<number, { description: string; content: Record<string, { schema: typeof ProblemRef }> }> = {};
  for (const status of statuses) {
    out[status] = {
      description: statusProblem(status).title,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemRef } },
    };
  }
  return out;
}
