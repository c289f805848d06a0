// The MCP server of one caller (tenant): sessions, chat and workspace files as tools, sessions and templates as resources, and prompts.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { sessionView } from '../http/views.js';
import type { ChatCaller } from '../sessions/service.js';
import type { SessionRow } from '../store/schema.js';
import type { Template } from '../templates/registry.js';
import { registerSeedPrompts, registerTemplatePrompts } from './prompts.js';
import { registerResources } from './resources.js';
import type { RemoteTurns } from './remote.js';
import type { McpCaller, McpContext } from './shared.js';
import { registerChatTool } from './tools/chat.js';
import { registerFileTools } from './tools/files.js';
import { registerSessionTools } from './tools/sessions.js';

export type { McpContext } from './shared.js';

/**
 * Builds the MCP server that acts as `tenant`: every call goes through the session rules with that tenant.
 * `caller` is who asks for turns (the HTTP request's key budget and audit identity). `followReloads` (long-lived
 * servers: stdio) swaps the template prompts whenever the templates reload. `remote` (several nodes): where turns of
 * sessions another node runs go.
 */
export function createMcpServer(
  ctx: McpContext,
  tenant: string,
  opts: { followReloads?: boolean; caller?: ChatCaller; remote?: RemoteTurns } = {},
): McpServer {
  const { sessions, templates } = ctx;
  const server = new McpServer(
    { name: 'claude-code-api', version: ctx.version },
    {
      // Logging notifications carry the approvals and questions a chat turn waits for.
      capabilities: { logging: {} },
      instructions:
        'Named Claude Code sessions, each with its own workspace folder. create_session (optionally from a template), then chat with it; list_files / read_file show what it wrote.',
    },
  );
  const view = (row: SessionRow) =>
    sessionView(row, sessions.liveness(row.id), row.template ? templates.get(row.template)?.profile : undefined);
  const caller: McpCaller = { ctx, tenant, caller: opts.caller, view, ...(opts.remote && { remote: opts.remote }) };

  registerSessionTools(server, caller);
  registerChatTool(server, caller);
  registerFileTools(server, caller);
  registerResources(server, caller);
  registerSeedPrompts(server);
  let prompts = registerTemplatePrompts(server, templates.list());
  if (opts.followReloads) {
    const onReload = (list: Template[]) => {
      for (const p of prompts) p.remove();
      prompts = registerTemplatePrompts(server, list);
    };
    templates.on('reloaded', onReload);
    server.server.onclose = () => templates.off('reloaded', onReload);
  }
  return server;
}
