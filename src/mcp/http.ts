// MCP over Streamable HTTP at /mcp: stateless, one MCP server per request, acting as the tenant the auth plugin found.
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { isJSONRPCRequest, JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { AppDeps } from '../http/deps.js';
import { callerOf } from '../http/plugins/auth.js';
import { HttpProblem, unauthorized } from '../http/http-problem.js';
import { problemResponses } from '../http/schemas/common.js';
import { createMcpServer, type McpContext } from './server.js';
import { callerHeaders, type RemoteTurns } from './remote.js';
import { KEY_REFUSED } from './stdio.js';
import { hijackWithHeaders } from '../http/hijack.js';
import { routePlugin } from '../http/route-plugin.js';

export const MCP_PATH = '/mcp';

const MCP_RESPONSE = {
  description:
    'The JSON-RPC answer: `application/json`, or `text/event-stream` carrying progress notifications and then the answer.',
  content: { 'application/json': { schema: { type: 'object' } }, 'text/event-stream': { schema: { type: 'string' } } },
};

/** What the MCP endpoint uses. */
export type McpRoutesDeps = Pick<AppDeps, 'config' | 'sessions' | 'templates' | 'version'>;

async function mcpRoutes(app: FastifyInstance, deps: McpRoutesDeps): Promise<void> {
  const ctx: McpContext = {
    config: deps.config,
    sessions: deps.sessions,
    templates: deps.templates,
    log: app.log,
    version: deps.version,
  };

  app.post(
    MCP_PATH,
    {
      schema: {
        tags: ['MCP'],
        operationId: 'mcpPost',
        summary: 'MCP (Streamable HTTP)',
        description:
          'The Model Context Protocol endpoint (stateless Streamable HTTP): tools create_session, chat, list_sessions, get_session, delete_session, get_history, list_files, read_file; resources for sessions and templates; one prompt per template. Same API key and tenancy as the REST API. Send `Accept: application/json, text/event-stream`. A batch counts each of its messages against the rate limit (429 when that passes it; none of the batch runs).',
        body: Type.Unknown({ description: 'A JSON-RPC 2.0 message or batch.' }),
        response: { 200: MCP_RESPONSE, ...problemResponses(400, 401, 406, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      // Refused here as problem documents, like every other route; the transport would answer JSON-RPC errors.
      const accept = request.headers.accept ?? '';
      if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
        throw new HttpProblem(406, 'MCP over Streamable HTTP needs `Accept: application/json, text/event-stream`.');
      }
      const messages: unknown[] = Array.isArray(request.body) ? request.body : [request.body];
      if (messages.length === 0 || !messages.every((m) => JSONRPCMessageSchema.safeParse(m).success)) {
        throw new HttpProblem(400, 'The body is not a JSON-RPC 2.0 message or a batch of them.', {
          slug: 'bad-jsonrpc',
          title: 'Not JSON-RPC',
        });
      }
      // The request itself counted once; each further message of a batch counts as one more request.
      await app.limitMore?.(request, messages.length - 1);
      // Several nodes: a turn of a session another node runs is run there, as this caller.
      const { sessionOwner } = app;
      const remote: RemoteTurns | undefined = sessionOwner && {
        ownerOf: (sessionId) => sessionOwner(request, sessionId),
        headers: callerHeaders(request.headers),
      };
      const server = createMcpServer(ctx, request.tenant, { caller: callerOf(request), ...(remote && { remote }) });
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      hijackWithHeaders(reply);
      reply.raw.on('close', () => {
        void transport.close();
        void server.close();
      });
      // A key revoked while its call runs (a chat turn can take minutes): the call ends as the client going away
      // would end it (its turn interrupted under CHAT_DISCONNECT=interrupt), and the answer is the revoke.
      app
        .revocationSignal?.(reply)
        ?.addEventListener(
          'abort',
          () => void answerRevoked(messages, transport).finally(() => endRevoked(reply.raw, server, transport)),
          { once: true },
        );
      try {
        await server.connect(transport);
        await transport.handleRequest(request.raw, reply.raw, request.body);
      } catch (err) {
        request.log.error({ err }, 'MCP request failed');
        if (!reply.raw.headersSent) {
          reply.raw.writeHead(500, { 'content-type': 'application/json' });
          reply.raw.end(
            JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null }),
          );
        }
      }
    },
  );

  // Stateless: no standalone event stream (GET) and no MCP session to end (DELETE). 405 is what clients expect.
  for (const method of ['GET', 'DELETE'] as const) {
    app.route({
      method,
      url: MCP_PATH,
      schema: {
        tags: ['MCP'],
        operationId: method === 'GET' ? 'mcpGet' : 'mcpDelete',
        summary: method === 'GET' ? 'MCP event stream (not offered)' : 'End an MCP session (not offered)',
        description: 'The MCP endpoint is stateless: answers 405; use POST.',
        response: problemResponses(401, 405),
      },
      handler: async () => {
        throw new HttpProblem(405, 'The MCP endpoint is stateless: send JSON-RPC messages with POST.', {
          headers: { allow: 'POST' },
        });
      },
    });
  }
}

/** Answers every request of the call with the revoke (code KEY_REFUSED, as the stdio server does), so clients stop waiting. */
async function answerRevoked(messages: unknown[], transport: StreamableHTTPServerTransport): Promise<void> {
  for (const m of messages) {
    if (!isJSONRPCRequest(m)) continue;
    await transport
      .send(
        {
          jsonrpc: '2.0',
          id: m.id,
          error: { code: KEY_REFUSED, message: 'The API key has been revoked while the call ran.' },
        },
        { relatedRequestId: m.id },
      )
      .catch(() => undefined);
  }
}

/**
 * Ends an MCP answer cut short by a revoke: closing the MCP server aborts its running tools (a chat turn is then
 * interrupted, as when the client goes away); what is left of the response ends (a 401 problem if nothing was sent).
 */
function endRevoked(res: ServerResponse, server: McpServer, transport: StreamableHTTPServerTransport): void {
  void server.close();
  void transport.close();
  if (res.writableEnded) return;
  if (!res.headersSent) {
    const problem = unauthorized('The API key has been revoked while the call ran.', 'revoked-api-key').toProblem();
    res.writeHead(401, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify(problem));
    return;
  }
  res.end();
}

export default routePlugin('mcp-routes', mcpRoutes);
