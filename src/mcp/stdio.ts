// MCP over stdio: one MCP server for one tenant on this process's stdin/stdout, until stdin ends or `stop` resolves.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createMcpServer, type McpContext } from './server.js';

export async function serveStdio(ctx: McpContext, tenant: string, stop: Promise<void>): Promise<void> {
  const server = createMcpServer(ctx, tenant, { followReloads: true });
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
