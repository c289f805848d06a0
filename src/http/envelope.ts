// The success envelope `{ data, meta }` of every response, and the pagination arithmetic of list endpoints.
import type { FastifyRequest } from 'fastify';
import type { Pagination, PaginationQueryType } from './schemas/common.js';

export const API_VERSION = 'v1';

export interface EnvelopeMeta {
  request_id: string;
  timestamp: string;
  version: typeof API_VERSION;
  pagination?: Pagination;
}

export interface Enveloped<T> {
  data: T;
  meta: EnvelopeMeta;
}

/** A list page: `meta.pagination` is always there, and the same object at the top as the seed's clients read it (matches ListEnvelope). */
export interface ListEnveloped<T> {
  data: T;
  meta: EnvelopeMeta & { pagination: Pagination };
  pagination: Pagination;
}

/** Wraps a response body: `{ data, meta: { request_id, timestamp, version: 'v1', pagination? }, pagination? }`. */
export function ok<T>(request: FastifyRequest, data: T): Enveloped<T>;
export function ok<T>(request: FastifyRequest, data: T, pagination: Pagination): ListEnveloped<T>;
export function ok<T>(request: FastifyRequest, data: T, pagination?: Pagination): Enveloped<T> {
  const meta: EnvelopeMeta = { request_id: request.id, timestamp: new Date().toISOString(), version: API_VERSION };
  if (!pagination) return { data, meta };
  meta.pagination = pagination;
  return { data, meta, pagination } as ListEnveloped<T>;
}

/** A validated PaginationQuery with its defaults applied, plus the row offset: `{ page, limit, offset }`. */
export function pageOf(query: PaginationQueryType): { page: number; limit: number; offset: number } {
  const page = query.page ?? 1;
  const limit = query.limit ?? 20;
  return { page, limit, offset: (page - 1) * limit };
}

/** The `meta.pagination` of a page: `{ page, limit, total, pages }`. */
export function paginationOf(page: { page: number; limit: number }, total: number): Pagination {
  return { page: page.page, limit: page.limit, total, pages: Math.ceil(total / page.limit) };
}
