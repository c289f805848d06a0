// The environment a Claude Code process gets: the server's own, less the server's secrets, plus the CLI settings we own.

export function cliEnvironment(
  base: Record<string, string | undefined>,
  opts: { secretNames: string[]; configDir: string | undefined; clientApp: string },
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !opts.secretNames.includes(k)) env[k] = v;
  if (opts.configDir) env.CLAUDE_CONFIG_DIR = opts.configDir;
  env.CLAUDE_AGENT_SDK_CLIENT_APP = opts.clientApp;
  return env;
}
