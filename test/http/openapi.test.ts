// The OpenAPI 3.1 document and Swagger UI: public, complete for health, problems documented as application/problem+json.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, pageOf, paginationOf } from '../../src/http/envelope.js';
import { ListEnvelope, PaginationQuery, problemResponses } from '../../src/http/schemas/common.js';
import { shellApp } from '../support/shell-app.js';

describe('openapi', () => {
  let app: FastifyInstance;
  let doc: Record<string, any>;
  beforeAll(async () => {
    app = await shellApp({ apiKeys: ['the-only-key'] }, { logger: false });
    await app.register(
      async (api) => {
        api.withTypeProvider<TypeBoxTypeProvider>().get(
          '/items',
          {
            schema: {
              tags: ['Sessions'],
              summary: 'List items',
              querystring: PaginationQuery,
              response: { 200: ListEnvelope(Type.Object({ n: Type.Integer() })), ...problemResponses(401, 422) },
            },
          },
          async (req) => {
            const page = pageOf(req.query);
            const all = Array.from({ length: 45 }, (_, i) => ({ n: i }));
            return ok(req, all.slice(page.offset, page.offset + page.limit), paginationOf(page, all.length));
          },
        );
      },
      { prefix: '/api/v1' },
    );
    await app.ready();
    const res = await app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(() => app.close());

  it('is OpenAPI 3.1.0 with title, version, servers, tags and both security schemes', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'claude-code-api', version: '0.1.0-test' });
    expect(doc.servers).toHaveLength(1);
    expect(doc.tags.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining(['Health', 'Sessions', 'Chat', 'History']),
    );
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ apiKey: [] }, { bearer: [] }]);
  });

  it('documents health as public with its 200 and 503 bodies', () => {
    const health = doc.paths['/api/v1/health'].get;
    expect(health.tags).toEqual(['Health']);
    expect(health.security).toEqual([]);
    const body = health.responses['200'].content['application/json'].schema;
    expect(body.properties.data.required).toEqual(
      expect.arrayContaining(['status', 'database', 'claude', 'engine', 'auth_mode', 'warnings']),
    );
    expect(health.responses['503'].content['application/json'].schema.properties.data.required).toContain('status');
  });

  it('documents error responses as application/problem+json and pagination as query parameters', () => {
    const items = doc.paths['/api/v1/items'].get;
    expect(items.security).toBeUndefined();
    // One Problem component, which every error response refers to.
    expect(items.responses['422'].content['application/problem+json'].schema).toEqual({
      $ref: '#/components/schemas/Problem',
    });
    expect(doc.components.schemas.Problem.properties.errors).toMatchObject({ type: 'array' });
    expect(items.responses['401'].description).toBe('Unauthorized');
    const names = items.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`);
    expect(names).toEqual(['query:page', 'query:limit']);
    expect(items.parameters.every((p: { required?: boolean }) => !p.required)).toBe(true);
  });

  it('leaves its own and the docs routes out of the paths', () => {
    expect(Object.keys(doc.paths).filter((p) => p.includes('openapi') || p.startsWith('/docs'))).toEqual([]);
  });

  it('is also served under /api/v1', async () => {
    expect((await app.inject({ url: '/api/v1/openapi.json' })).json().openapi).toBe('3.1.0');
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await app.inject({ url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('swagger');
  });

  it('pagination: defaults, coercion from strings, bounds and meta.pagination', async () => {
    const headers = { 'x-api-key': 'the-only-key' };
    const first = (await app.inject({ url: '/api/v1/items', headers })).json();
    expect(first.data).toHaveLength(20);
    expect(first.meta).toMatchObject({ version: 'v1', pagination: { page: 1, limit: 20, total: 45, pages: 3 } });
    const last = (await app.inject({ url: '/api/v1/items?page=3&limit=20', headers })).json();
    expect(last.data.map((d: { n: number }) => d.n)).toEqual([40, 41, 42, 43, 44]);
    for (const q of ['limit=101', 'limit=0', 'page=0', 'page=x']) {
      const res = await app.inject({ url: `/api/v1/items?${q}`, headers });
      expect(res.statusCode).toBe(422);
      expect(res.json().errors[0].location).toBe('query');
    }
  });
});
