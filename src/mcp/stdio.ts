// MCP over stdio: one MCP server for one tenant on this process's stdin/stdout, until stdin ends or `stop` resolves.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { ChatCaller } from '../sessions/service.js';
import type { RemoteTurns } from './remote.js';
import { createMcpServer, type McpContext } from './server.js';

/** JSON-RPC error code of a request refused because the key no longer works (server-defined range). */
export const KEY_REFUSED = -32001;

/** Requests answered without a key check: the handshake and pings. */
const UNCHECKED = new Set(['initialize', 'ping']);

/**
 * `authorize` runs before every request but the handshake (in arrival order); when it throws, the request is answered
 * with a JSON-RPC error carrying its message and is not run. `caller`: the key the server acts as (its budget and
 * fair share); none in open mode. `remote` (a cluster): where turns of sessions an HTTP node runs go.
 */
export async function serveStdio(
  ctx: McpContext,
  tenant: string,
  stop: Promise<void>,
  authorize?: () => Promise<void>,
  caller: ChatCaller = {},
  remote?: RemoteTurns,
): Promise<void> {
  const server = createMcpServer(ctx, tenant, { followReloads: true, caller, ...(remote && { remote }) });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = resolve;
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
  });
  await server.connect(transport);
  if (authorize) checkEachRequest(transport, authorize);
  await Promise.race([closed, stop]);
  await server.close();
}

/** Puts `authorize` in front of the server's message handler; messages keep their order. */
function checkEachRequest(transport: StdioServerTransport, authorize: () => Promise<void>): void {
  const handle = transport.onmessage;
  let queue = Promise.resolve();
  transport.onmessage = (message: JSONRPCMessage) => {
    queue = queue.then(async () => {
      if ('method' in message && 'id' in message && !UNCHECKED.has(message.method)) {
        try {
          await authorize();
        } catch (err) {
          const text = err instanceof Error ? err.message : String(err);
          await transport.send({ jsonrpc: '2.0', id: message.id, error: { code: KEY_REFUSED, message: text } });
          return;
        }
      }
      handle?.(message);
    });
  };
}
