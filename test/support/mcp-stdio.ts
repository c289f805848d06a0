// The stdio MCP server (`claude-code-api mcp`) as an MCP client spawns it, on the folders of a test server.
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { TestServer } from './server.js';

/** A transport that starts `cli.ts mcp` with the test server's DATA_DIR and workspaces, plus `env`. */
export function stdioMcpTransport(t: TestServer, env: Record<string, string>): StdioClientTransport {
  return new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'src/cli.ts', 'mcp'],
    cwd: process.cwd(),
    stderr: 'pipe',
    env: {
      ...t.cli.env,
      DATA_DIR: t.dirs.data,
      APPROVED_DIRECTORY: t.dirs.workspaces,
      CLAUDE_CONFIG_DIR: t.cli.configDir,
      LOG_LEVEL: 'warn',
      // Where the wall cannot run, the test server serves several tenants unconfined (wallFallbackEnv); so does this.
      ...(t.config.security.wall.unconfinedTenants && { WALL_UNCONFINED_TENANTS: 'true' }),
      ...env,
    },
  });
}
