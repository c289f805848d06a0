// MCP over stdio in tests: `claude-code-api mcp` as a child process on the test server's folders, database and keys.
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { KEYS, type TestServer } from './server.js';

/** A transport that starts the stdio server; `env` adds to (or overrides) the test server's settings. */
export function stdioMcpTransport(t: TestServer, env: Record<string, string>): StdioClientTransport {
  return new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'src/cli.ts', 'mcp'],
    cwd: process.cwd(),
    stderr: 'pipe',
    env: {
      ...t.cli.env,
      API_KEYS: KEYS.join(','),
      DATA_DIR: t.dirs.data,
      APPROVED_DIRECTORY: t.dirs.workspaces,
      ...env,
    },
  });
}
