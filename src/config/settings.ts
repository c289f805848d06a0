// The table of every environment setting: name, type, default and meaning (the one source for parsing and docs).

export type SettingKind =
  | { type: 'int'; min?: number; max?: number }
  | { type: 'number'; min?: number; max?: number }
  | { type: 'bool' }
  | { type: 'string' }
  | { type: 'list' }
  | { type: 'enum'; values: readonly string[] };

export interface SettingSpec {
  name: string;
  kind: SettingKind;
  /** Default as the text a user would write; undefined = unset. */
  default?: string;
  /** Human description of the default when it is computed. */
  defaultText?: string;
  description: string;
  secret?: boolean;
}

const PERMISSION_MODES = ['default', 'acceptEdits', 'plan', 'dontAsk', 'bypassPermissions'] as const;
export const EFFORT_LEVELS = ['low', 'medium', 'high', 'xhigh', 'max'] as const;
export { PERMISSION_MODES };

export const SETTINGS: readonly SettingSpec[] = [
  // HTTP server
  { name: 'PORT', kind: { type: 'int', min: 0, max: 65535 }, default: '8000', description: 'TCP port the server listens on (0 = any free port).' },
  { name: 'HOST', kind: { type: 'string' }, defaultText: '`0.0.0.0` when API keys are configured, `127.0.0.1` in open mode', description: 'Address to bind.' },
  { name: 'LOG_LEVEL', kind: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, default: 'info', description: 'pino log level. Prompts and secrets are never logged at info.' },
  { name: 'BODY_LIMIT_MB', kind: { type: 'number', min: 0.001, max: 1024 }, default: '2', description: 'Largest accepted JSON request body, in MiB (413 beyond).' },
  { name: 'MAX_MESSAGE_CHARS', kind: { type: 'int', min: 1, max: 10_000_000 }, default: '100000', description: 'Longest accepted chat `message`, in characters (422 beyond).' },
  // Auth
  { name: 'API_KEYS', kind: { type: 'list' }, description: 'Comma-separated API keys. Each key is its own tenant: it sees only the sessions it created. Empty = open mode (no auth, bound to 127.0.0.1 unless HOST is set).', secret: true },
  // Storage
  { name: 'DATA_DIR', kind: { type: 'string' }, default: './data', description: 'Folder for the server\'s own state: the default SQLite database and the Claude Code config dir of the sessions.' },
  { name: 'DATABASE_URL', kind: { type: 'string' }, defaultText: '`sqlite:<DATA_DIR>/claude-code-api.db`', description: '`sqlite:///absolute/path.db`, `sqlite:./relative.db` or `postgres://user:pass@host:5432/db`.', secret: true },
  { name: 'APPROVED_DIRECTORY', kind: { type: 'string' }, default: './workspaces', description: 'Root of all session workspaces; `POST /sessions/{name}/repo` may only point inside it. Created if missing.' },
  // Claude Code
  { name: 'CLAUDE_CLI_PATH', kind: { type: 'string' }, defaultText: 'the CLI bundled with `@anthropic-ai/claude-agent-sdk`', description: 'Path to an installed `claude` executable to use instead of the bundled one.' },
  { name: 'CLAUDE_CONFIG_DIR', kind: { type: 'string' }, defaultText: 'the CLI\'s own default (`~/.claude`)', description: 'Config and transcript folder of the CLI processes (passed through to Claude Code). Set it to keep the service\'s transcripts apart from your own.' },
  { name: 'CLAUDE_MODEL', kind: { type: 'string' }, defaultText: 'the CLI\'s default model', description: 'Default model for new sessions.' },
  { name: 'CLAUDE_EFFORT', kind: { type: 'enum', values: EFFORT_LEVELS }, description: 'Default effort level.' },
  { name: 'CLAUDE_SYSTEM_PROMPT', kind: { type: 'string' }, description: 'Text appended to Claude Code\'s own system prompt for every session (a session or request `system_prompt` replaces it).' },
  { name: 'CLAUDE_MAX_TURNS', kind: { type: 'int', min: 1, max: 1000 }, default: '25', description: 'Default most agentic turns (model calls) per chat request.' },
  { name: 'CLAUDE_TIMEOUT_SECONDS', kind: { type: 'number', min: 1, max: 86400 }, default: '300', description: 'Longest a turn may run; then it is interrupted and the request answers 504.' },
  { name: 'CLAUDE_PERMISSION_MODE', kind: { type: 'enum', values: PERMISSION_MODES }, default: 'acceptEdits', description: 'Permission mode of Claude Code for every session unless a session or request picks another allowed one.' },
  { name: 'CLAUDE_ALLOWED_PERMISSION_MODES', kind: { type: 'list' }, default: 'default,acceptEdits,plan,dontAsk', description: 'Permission modes a client may pick per session or request. `bypassPermissions` is never allowed unless listed here.' },
  { name: 'CLAUDE_ALLOWED_TOOLS', kind: { type: 'list' }, default: 'Read,Write,Edit,MultiEdit,NotebookEdit,Glob,Grep,LS,Bash,TodoWrite', description: 'Tools Claude Code may use without asking. A client\'s `allowed_tools` can only narrow this list.' },
  { name: 'CLAUDE_DISALLOWED_TOOLS', kind: { type: 'list' }, default: '', description: 'Tools removed from every session. A client\'s `disallowed_tools` adds to this list.' },
  // Engine
  { name: 'MAX_LIVE_SESSIONS', kind: { type: 'int', min: 1, max: 10_000 }, default: '8', description: 'Most live Claude Code processes (one per active session). The least recently used idle one is closed to make room; it resumes transparently.' },
  { name: 'SESSION_IDLE_SECONDS', kind: { type: 'number', min: 1, max: 604_800 }, default: '600', description: 'An idle session\'s process is closed after this long (the conversation resumes on its next turn).' },
  { name: 'MAX_CONCURRENT_TURNS', kind: { type: 'int', min: 1, max: 10_000 }, default: '4', description: 'Most turns running at once across all sessions; must not exceed MAX_LIVE_SESSIONS.' },
  { name: 'TURN_QUEUE_TIMEOUT_SECONDS', kind: { type: 'number', min: 0, max: 3600 }, default: '30', description: 'Longest a turn waits for a free slot before the request answers 503 with Retry-After.' },
  { name: 'SESSION_QUEUE_LIMIT', kind: { type: 'int', min: 0, max: 1000 }, default: '8', description: 'Most requests waiting behind a session\'s running turn; one more answers 409.' },
  { name: 'MAX_SESSIONS_PER_USER', kind: { type: 'int', min: 1, max: 1_000_000 }, default: '100', description: 'Most sessions one API key may hold (409 beyond).' },
  { name: 'CHAT_DISCONNECT', kind: { type: 'enum', values: ['interrupt', 'continue'] }, default: 'interrupt', description: 'What happens to a turn when the client of a sync or streamed chat goes away: `interrupt` it, or let it `continue` (its result lands in history and can be re-attached with Last-Event-ID).' },
  { name: 'SSE_HEARTBEAT_SECONDS', kind: { type: 'number', min: 0.01, max: 3600 }, default: '15', description: 'Interval of the `: ping` comment on open event streams.' },
  { name: 'TURN_REPLAY_SECONDS', kind: { type: 'number', min: 0, max: 86400 }, default: '300', description: 'How long a finished turn\'s events stay in memory for `Last-Event-ID` reconnects.' },
  { name: 'SHUTDOWN_GRACE_SECONDS', kind: { type: 'number', min: 0, max: 3600 }, default: '10', description: 'On SIGTERM/SIGINT, how long running turns may finish before they are interrupted.' },
] as const;
