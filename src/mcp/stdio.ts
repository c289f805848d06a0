// MCP over stdio: one MCP server for one tenant on this process's stdin/stdout, until stdin ends or `stop` resolves.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { ChatCaller } from '../sessions/service.js';
import { createMcpServer, type McpContext } from './server.js';

/** `caller`: the key the server acts as (its budget and fair share); none in open mode. */
export async function serveStdio(
  ctx: McpContext,
  tenant: string,
  stop: Promise<void>,
  caller: ChatCaller = {},
): Promise<void> {
  const server = createMcpServer(ctx, tenant, { followReloads: true, caller });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
  await server.connect(transport);
  await Promise.race([closed, stop]);
  await server.close();
}
