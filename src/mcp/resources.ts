// The MCP resources: the caller's sessions and the templates, as JSON (ours under claude-code-api://, and the Python seed's sessions://list and templates://list).
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { templateView } from '../http/views.js';
import { ProblemError } from '../problems.js';
import { RESOURCE_ROOT, type McpCaller } from './shared.js';

/** Most items a resource list holds. */
const RESOURCE_LIST_LIMIT = 100;

export function registerResources(server: McpServer, { ctx, tenant, view }: McpCaller): void {
  const { sessions, templates } = ctx;
  const json = (uri: URL, value: unknown): ReadResourceResult => ({
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }],
  });
  const newest = () => sessions.list(tenant, 0, RESOURCE_LIST_LIMIT);
  const templatesByName = () => Object.fromEntries(templates.list().map((t) => [t.name, templateView(t)]));

  server.registerResource(
    'sessions',
    `${RESOURCE_ROOT}sessions`,
    {
      title: 'Sessions',
      description: `The caller's sessions, newest first (at most ${RESOURCE_LIST_LIMIT}).`,
      mimeType: 'application/json',
    },
    async (uri) => {
      const result = await newest();
      return json(uri, { sessions: result.items.map(view), total: result.total });
    },
  );
  server.registerResource(
    'session',
    new ResourceTemplate(`${RESOURCE_ROOT}sessions/{name}`, {
      list: async () => ({
        resources: (await newest()).items.map((row) => ({
          uri: `${RESOURCE_ROOT}sessions/${encodeURIComponent(row.name)}`,
          name: row.name,
          mimeType: 'application/json',
        })),
      }),
    }),
    { title: 'Session', description: 'One session of the caller.', mimeType: 'application/json' },
    async (uri, vars) =>
      json(uri, { session: view(await sessions.get(tenant, decodeURIComponent(String(vars.name)))) }),
  );
  server.registerResource(
    'templates',
    `${RESOURCE_ROOT}templates`,
    {
      title: 'Templates',
      description: 'The agent templates sessions can be created from.',
      mimeType: 'application/json',
    },
    async (uri) => json(uri, { templates: templates.list().map(templateView) }),
  );
  server.registerResource(
    'template',
    new ResourceTemplate(`${RESOURCE_ROOT}templates/{name}`, {
      list: async () => ({
        resources: templates.list().map((t) => ({
          uri: `${RESOURCE_ROOT}templates/${t.name}`,
          name: t.name,
          description: t.profile.description,
          mimeType: 'application/json',
        })),
      }),
    }),
    { title: 'Template', description: 'One agent template.', mimeType: 'application/json' },
    async (uri, vars) => {
      const t = templates.get(decodeURIComponent(String(vars.name)));
      if (!t)
        throw new ProblemError(
          404,
          'not-found',
          'Not found',
          `No template named ${JSON.stringify(String(vars.name))}.`,
        );
      return json(uri, { template: templateView(t) });
    },
  );

  // The Python seed's resources: a JSON array of sessions, and the templates as a map of name → profile.
  server.registerResource(
    'sessions-list',
    'sessions://list',
    {
      title: 'Sessions (list)',
      description: `The caller's sessions as a JSON array, newest first (at most ${RESOURCE_LIST_LIMIT}).`,
      mimeType: 'application/json',
    },
    async (uri) => json(uri, (await newest()).items.map(view)),
  );
  server.registerResource(
    'templates-list',
    'templates://list',
    {
      title: 'Templates (by name)',
      description: 'The agent templates as a JSON object keyed by name.',
      mimeType: 'application/json',
    },
    async (uri) => json(uri, templatesByName()),
  );
}
