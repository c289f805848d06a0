// The environment a Claude Code process gets: an allow-list of what the CLI needs (auth, proxies, locale), never the server's own settings or secrets.
import { SETTINGS } from '../config/settings.js';

/** Variables passed through by exact name. */
const ALLOWED_NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'TERM',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'IS_SANDBOX',
  'CLOUD_ML_REGION',
  'XDG_CONFIG_HOME',
  'XDG_CACHE_HOME',
  'XDG_DATA_HOME',
  'XDG_STATE_HOME',
  // Claude Code's own tuning variables that carry no CLAUDE_ / ANTHROPIC_ prefix.
  'MAX_THINKING_TOKENS',
  'MAX_MCP_OUTPUT_TOKENS',
  'MCP_TIMEOUT',
  'MCP_TOOL_TIMEOUT',
  'USE_BUILTIN_RIPGREP',
  'BASH_DEFAULT_TIMEOUT_MS',
  'BASH_MAX_TIMEOUT_MS',
  'BASH_MAX_OUTPUT_LENGTH',
]);

/** Variables passed through by prefix: locale, Claude Code and Anthropic settings, Bedrock (AWS), Vertex (Google) and Claude Code's DISABLE_* switches. */
const ALLOWED_PREFIXES = ['LC_', 'ANTHROPIC_', 'CLAUDE_', 'AWS_', 'GOOGLE_', 'VERTEX_', 'DISABLE_'];

/** The server's own settings never reach the CLI, except the one it is meant to read. */
const SERVER_SETTINGS = new Set(SETTINGS.map((s) => s.name).filter((n) => n !== 'CLAUDE_CONFIG_DIR'));

/** Names the server always keeps to itself, whether or not they are settings of this version. */
const ALWAYS_HIDDEN = [
  'API_KEYS',
  'ADMIN_API_KEYS',
  'WEBHOOK_SECRET',
  'WEBHOOK_URL',
  'DATABASE_URL',
  'REDIS_URL',
  'MCP_API_KEY',
];

export interface CliEnvOptions {
  /** Setting names whose values are secrets (Config.secretNames): refused even when `allow` names them. */
  secretNames: string[];
  /** CLAUDE_CONFIG_DIR the processes get (undefined: whatever the base environment says). */
  configDir: string | undefined;
  /** Sent as CLAUDE_AGENT_SDK_CLIENT_APP. */
  clientApp: string;
  /** Extra names the operator lets through (CLI_ENV_ALLOW): exact names, or prefixes ending in `*`. */
  allow?: string[];
}

/** Whether a variable of the server's environment may reach a Claude Code process. */
export function isCliVariable(name: string, opts: Pick<CliEnvOptions, 'secretNames' | 'allow'>): boolean {
  if (ALWAYS_HIDDEN.includes(name) || opts.secretNames.includes(name) || SERVER_SETTINGS.has(name)) return false;
  if (ALLOWED_NAMES.has(name) || ALLOWED_PREFIXES.some((p) => name.startsWith(p))) return true;
  return (opts.allow ?? []).some((a) => (a.endsWith('*') ? name.startsWith(a.slice(0, -1)) : name === a));
}

export function cliEnvironment(
  base: Record<string, string | undefined>,
  opts: CliEnvOptions,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && isCliVariable(k, opts)) env[k] = v;
  if (opts.configDir) env.CLAUDE_CONFIG_DIR = opts.configDir;
  env.CLAUDE_AGENT_SDK_CLIENT_APP = opts.clientApp;
  return env;
}
