// The success envelope and pagination arithmetic.
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ok, pageOf, paginationOf } from '../../src/http/envelope.js';

describe('envelope', () => {
  it('wraps data with request id, ISO timestamp and version', () => {
    const body = ok({ id: 'req-1' } as FastifyRequest, { a: 1 });
    expect(body).toEqual({
      data: { a: 1 },
      meta: { request_id: 'req-1', timestamp: expect.any(String), version: 'v1' },
    });
    expect(new Date(body.meta.timestamp).toISOString()).toBe(body.meta.timestamp);
  });

  it('adds pagination to lists', () => {
    const page = pageOf({ page: 2, limit: 10 });
    expect(page).toEqual({ page: 2, limit: 10, offset: 10 });
    expect(ok({ id: 'r' } as FastifyRequest, [], paginationOf(page, 0)).meta.pagination).toEqual({
      page: 2,
      limit: 10,
      total: 0,
      pages: 0,
    });
    expect(paginationOf(pageOf({}), 41)).toEqual({ page: 1, limit: 20, total: 41, pages: 3 });
  });
});
