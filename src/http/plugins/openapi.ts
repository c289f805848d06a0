// The OpenAPI 3.1 document (at /openapi.json and /api/v1/openapi.json) and Swagger UI (at /docs), all public.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { SharedProblemSchema } from '../schemas/common.js';
import { SharedChatEventFrameSchema, SharedTurnEventFrameSchema } from '../schemas/events.js';
import { jobWebhooks } from '../schemas/webhooks.js';

export interface OpenApiOptions {
  version: string;
  /** Prefix of the API routes, where the document is served as well. */
  apiPrefix: string;
  /** false (ENABLE_DOCS=false): neither Swagger UI nor the document is served (the document is still built). */
  serve?: boolean;
}

export const DOCS_PREFIX = '/docs';

/** The name the document gives a route's trailing `*` (the rest of the URL), which generated clients cannot use. */
export const WILDCARD_PARAM = 'path';

/**
 * Documents a wildcard route (`/files/*`) as `/files/{path}`: the same URLs, with a parameter name a generated client
 * can fill. The value may hold `/` as is or encoded as `%2F` (the server decodes it once either way).
 */
function namedWildcard<S extends { params?: unknown }>(schema: S, url: string): { schema: S; url: string } {
  if (!url.endsWith('*')) return { schema, url };
  const params = schema.params as { properties?: Record<string, unknown>; required?: string[] } | undefined;
  const { ['*']: rest, ...others } = params?.properties ?? {};
  const renamed = {
    ...params,
    properties: { ...others, [WILDCARD_PARAM]: rest ?? { type: 'string' } },
    required: [...(params?.required ?? []).filter((n) => n !== '*'), WILDCARD_PARAM],
  };
  return { schema: { ...schema, params: renamed }, url: `${url.slice(0, -1)}:${WILDCARD_PARAM}` };
}

export default fp<OpenApiOptions>(
  async (app, { version, apiPrefix, serve = true }) => {
    // Swagger UI's own routes (added below) cannot carry our route config: mark everything under /docs public here.
    app.addHook('onRoute', (route) => {
      if (route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`))
        route.config = { ...route.config, public: true };
    });

    app.addSchema(SharedProblemSchema);
    app.addSchema(SharedTurnEventFrameSchema);
    app.addSchema(SharedChatEventFrameSchema);
    await app.register(swagger, {
      // Shared schemas become components named by their $id.
      refResolver: {
        buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`),
      },
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'claude-code-api',
          version,
          license: { name: 'MIT', identifier: 'MIT' },
          description:
            'Claude Code behind a REST API. Successful responses are `{ data, meta }`; failures are RFC 9457 problem documents (`application/problem+json`).',
        },
        servers: [{ url: '/', description: 'This server' }],
        webhooks: jobWebhooks(),
        components: {
          securitySchemes: {
            apiKey: {
              type: 'apiKey',
              in: 'header',
              name: 'X-API-Key',
              description:
                'An API key: one of API_KEYS or ADMIN_API_KEYS, or one created with POST /api/v1/keys. Admin keys may add `X-Tenant: <tenant id>` to act for a tenant.',
            },
            bearer: {
              type: 'http',
              scheme: 'bearer',
              description: 'The same API key, as `Authorization: Bearer <key>`.',
            },
          },
        },
        security: [{ apiKey: [] }, { bearer: [] }],
        tags: [
          { name: 'Health', description: 'Liveness and readiness of the service, its database and Claude Code.' },
          { name: 'Sessions', description: 'Named, persistent Claude Code sessions.' },
          { name: 'Chat', description: 'Turns: synchronous or streamed (SSE).' },
          { name: 'History', description: 'The stored messages and events of a session.' },
          {
            name: 'Jobs',
            description:
              'Async jobs: a turn run in the background, its event stream, cancel, and signed webhooks. POSTs take an Idempotency-Key.',
          },
          {
            name: 'Files',
            description: "The files of a session's workspace: upload, list, download (Range, ETag), delete.",
          },
          {
            name: 'Approvals',
            description: 'A person in the loop: permission rules, approvals of tool calls, and answers to questions.',
          },
          { name: 'Keys', description: 'API keys (admin only): create, list, revoke.' },
          { name: 'Audit', description: 'The audit trail of mutating requests and of tool calls and denials.' },
          { name: 'Usage', description: 'Cost, tokens and turns; token counts.' },
          { name: 'Templates', description: 'Agent templates (YAML profiles) sessions can be created from.' },
          { name: 'MCP', description: 'The Model Context Protocol server (Streamable HTTP) over the same sessions.' },
          {
            name: 'Compatible APIs',
            description: 'OpenAI Chat Completions and Anthropic Messages on live sessions (docs/compat.md).',
          },
        ],
      },
      transform: ({ schema, url, route }) => {
        const named = namedWildcard(schema, url);
        // Public routes need no key: say so in the document.
        if (route.config?.public) return { schema: { ...named.schema, security: [] }, url: named.url };
        return named;
      },
    });
    if (!serve) return;
    await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });

    for (const path of ['/openapi.json', `${apiPrefix}/openapi.json`]) {
      app.get(path, { schema: { hide: true }, config: { public: true } }, async () => app.swagger());
    }
  },
  { name: 'openapi', fastify: '5.x' },
);
