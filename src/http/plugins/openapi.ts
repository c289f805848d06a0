// The OpenAPI 3.1 document (at /openapi.json and /api/v1/openapi.json) and Swagger UI (at /docs), all public.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';

export interface OpenApiOptions {
  version: string;
  /** Prefix of the API routes, where the document is served as well. */
  apiPrefix: string;
  /** false (ENABLE_DOCS=false): neither Swagger UI nor the document is served (the document is still built). */
  serve?: boolean;
}

export const DOCS_PREFIX = '/docs';

export default fp<OpenApiOptions>(
  async (app, { version, apiPrefix, serve = true }) => {
    // Swagger UI's own routes (added below) cannot carry our route config: mark everything under /docs public here.
    app.addHook('onRoute', (route) => {
      if (route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`))
        route.config = { ...route.config, public: true };
    });

    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'claude-code-api',
          version,
          description:
            'Claude Code behind a REST API. Successful responses are `{ data, meta }`; failures are RFC 9457 problem documents (`application/problem+json`).',
        },
        servers: [{ url: '/', description: 'This server' }],
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
      // Public routes need no key: say so in the document.
      transform: ({ schema, url, route }) => {
        if (route.config?.public) return { schema: { ...schema, security: [] }, url };
        return { schema, url };
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
