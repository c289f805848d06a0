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

const PERMISSION_MODES = ['default', 'acceptEdits', 'plan', 'dontAsk', 'auto', 'bypassPermissions'] as const;
export const EFFORT_LEVELS = ['low', 'medium', 'high', 'xhigh', 'max'] as const;
export { PERMISSION_MODES };

/** The Python seed's templates file, read from the working directory when TEMPLATES_PATH is not set. */
export const SEED_TEMPLATES_FILE = 'templates.yml';

export const SETTINGS: readonly SettingSpec[] = [
  // HTTP server
  {
    name: 'PORT',
    kind: { type: 'int', min: 0, max: 65535 },
    default: '8000',
    description: 'TCP port the server listens on (0 = any free port).',
  },
  {
    name: 'HOST',
    kind: { type: 'string' },
    defaultText: '`0.0.0.0` when API keys are configured, `127.0.0.1` in open mode',
    description:
      'Address to bind. In open mode (no keys configured or stored) the server binds 127.0.0.1 whatever HOST says, unless OPEN_MODE_ALLOW_REMOTE=true.',
  },
  {
    name: 'OPEN_MODE_ALLOW_REMOTE',
    kind: { type: 'bool' },
    default: 'false',
    description:
      'Let open mode (no authentication at all) listen on a HOST beyond loopback. Logged as an error at every start. Without it, an open-mode server binds 127.0.0.1, and a server listening beyond loopback never falls into open mode (with every key revoked it answers 401).',
  },
  {
    name: 'API_HOST',
    kind: { type: 'string' },
    description: "The Python seed's name for HOST, used when HOST is not set.",
  },
  {
    name: 'API_PORT',
    kind: { type: 'int', min: 0, max: 65535 },
    description: "The Python seed's name for PORT, used when PORT is not set.",
  },
  {
    name: 'ENABLE_DOCS',
    kind: { type: 'bool' },
    default: 'true',
    description: 'Serve Swagger UI at `/docs` and the OpenAPI document at `/openapi.json` and `/api/v1/openapi.json`.',
  },
  {
    name: 'LOG_LEVEL',
    kind: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    default: 'info',
    description:
      'pino log level, in any case (`INFO` as the Python seed writes it). Prompts and secrets are never logged at info.',
  },
  {
    name: 'BODY_LIMIT_MB',
    kind: { type: 'number', min: 0.001, max: 1024 },
    default: '2',
    description: 'Largest accepted JSON request body, in MiB (413 beyond).',
  },
  {
    name: 'REQUEST_TIMEOUT_SECONDS',
    kind: { type: 'number', min: 0, max: 86_400 },
    default: '300',
    description:
      "Most time a client may take to send a whole request, headers and body (Fastify's `requestTimeout`); a slower upload is answered 408 and its connection closed. 0 = no limit. Checked about once a second.",
  },
  {
    name: 'BODY_IDLE_TIMEOUT_SECONDS',
    kind: { type: 'number', min: 0, max: 3600 },
    default: '30',
    description:
      'Most time a request body (an upload, a JSON body) may stall without a byte arriving; the connection is then closed and a partial upload removed. Once the body is in, a request may wait for its answer as long as its turn runs. 0 = no limit.',
  },
  {
    name: 'KEEP_ALIVE_TIMEOUT_SECONDS',
    kind: { type: 'number', min: 0.001, max: 3600 },
    default: '72',
    description:
      "How long an idle keep-alive connection stays open between requests (Fastify's `keepAliveTimeout`). A connection that never sends its headers is closed after 60 s (or REQUEST_TIMEOUT_SECONDS when shorter).",
  },
  {
    name: 'MAX_MESSAGE_CHARS',
    kind: { type: 'int', min: 1, max: 10_000_000 },
    default: '100000',
    description: 'Longest accepted chat `message`, in characters (422 beyond).',
  },
  // Auth
  {
    name: 'API_KEYS',
    kind: { type: 'list' },
    description:
      'Comma-separated API keys. Each key is its own tenant: it sees only the sessions it created. Empty (and no stored key) = open mode: no auth, bound to 127.0.0.1 (see OPEN_MODE_ALLOW_REMOTE).',
    secret: true,
  },
  {
    name: 'ADMIN_API_KEYS',
    kind: { type: 'list' },
    description:
      "Comma-separated admin API keys: they may manage keys (`/api/v1/keys`) and see every tenant's sessions, audit rows and usage. Each is also its own tenant for the sessions it creates.",
    secret: true,
  },
  {
    name: 'API_KEY_CACHE_SECONDS',
    kind: { type: 'number', min: 0, max: 3600 },
    default: '5',
    description:
      'How long a key looked up in the database stays cached. A revoke drops the cached lookup on every instance at once (see KEY_REVOCATION_CHECK_SECONDS), so this bounds nothing but the database reads.',
  },
  {
    name: 'KEY_REVOCATION_CHECK_SECONDS',
    kind: { type: 'number', min: 0.05, max: 60 },
    default: '0.5',
    description:
      'How often each instance counts the revoked keys in the database, so a revoke made on another instance or with the CLI takes effect here within this time (its open streams end, its running turns are interrupted, its running and queued jobs fail). With REDIS_URL a revoke is also announced over pub/sub and takes effect at once.',
  },
  // Rate limits
  {
    name: 'RATE_LIMIT_REQUESTS',
    kind: { type: 'int', min: 0, max: 100_000_000 },
    default: '30',
    description:
      'Requests one API key (or, without a valid key, one IP address) may make per RATE_LIMIT_WINDOW; a key may carry its own limit. 0 = no limit. Health and docs are exempt.',
  },
  {
    name: 'RATE_LIMIT_WINDOW',
    kind: { type: 'number', min: 1, max: 86_400 },
    default: '60',
    description: 'Length of the rate-limit window, in seconds.',
  },
  {
    name: 'REDIS_URL',
    kind: { type: 'string' },
    description:
      '`redis://[:password@]host:6379[/db]`: keep rate-limit counters in Redis so several instances share one budget. Unset = in memory, per process.',
    secret: true,
  },
  {
    name: 'REDIS_KEY_PREFIX',
    kind: { type: 'string' },
    default: 'claude-code-api:',
    description: 'Prefix of every Redis key this service writes (rate-limit counters are under `<prefix>rl:`).',
  },
  // HTTP hardening
  {
    name: 'CORS_ORIGINS',
    kind: { type: 'list' },
    default: '',
    description:
      'Comma-separated origins browsers may call the API from (`https://app.example.com`). `*` = any origin, only when written explicitly. Empty = no CORS headers at all.',
  },
  // Storage
  {
    name: 'DATA_DIR',
    kind: { type: 'string' },
    default: './data',
    description: "Folder for the server's own state (the default SQLite database lives here).",
  },
  {
    name: 'DATABASE_URL',
    kind: { type: 'string' },
    defaultText: '`sqlite:<DATA_DIR>/claude-code-api.db`',
    description: '`sqlite:///absolute/path.db`, `sqlite:./relative.db` or `postgres://user:pass@host:5432/db`.',
    secret: true,
  },
  {
    name: 'SQLITE_READ_CACHE_MB',
    kind: { type: 'number', min: 0, max: 4096 },
    default: '16',
    description:
      'Memory for SQLite read results kept until the next write to the database (by this server or any other process), so lists and histories polled between writes cost no SQL. 0 = off. Not used with PostgreSQL.',
  },
  {
    name: 'APPROVED_DIRECTORY',
    kind: { type: 'string' },
    default: './workspaces',
    description:
      'Root of all session workspaces; `POST /sessions/{name}/repo` may only point inside it. Created if missing.',
  },
  // Files API
  {
    name: 'MAX_UPLOAD_MB',
    kind: { type: 'number', min: 0.001, max: 102_400 },
    default: '10',
    description:
      'Largest file accepted by `POST /sessions/{name}/files`, in MiB (413 beyond; nothing is left on disk).',
  },
  {
    name: 'MAX_LIST_ENTRIES',
    kind: { type: 'int', min: 1, max: 10_000_000 },
    default: '10000',
    description:
      'Most entries one `GET /sessions/{name}/files` listing walks before it answers 400 `listing-too-large` (list a sub-folder instead).',
  },
  // Claude Code
  {
    name: 'CLAUDE_CLI_PATH',
    kind: { type: 'string' },
    defaultText: 'the CLI bundled with `@anthropic-ai/claude-agent-sdk`',
    description: 'Path to an installed `claude` executable to use instead of the bundled one.',
  },
  {
    name: 'CLAUDE_CONFIG_DIR',
    kind: { type: 'string' },
    defaultText: "the CLI's own default (`~/.claude`)",
    description:
      "Config and transcript folder of the CLI processes (passed through to Claude Code). Set it to keep the service's transcripts apart from your own.",
  },
  {
    name: 'CLAUDE_MODEL',
    kind: { type: 'string' },
    defaultText: "the CLI's default model",
    description: 'Default model for new sessions.',
  },
  { name: 'CLAUDE_EFFORT', kind: { type: 'enum', values: EFFORT_LEVELS }, description: 'Default effort level.' },
  {
    name: 'CLAUDE_SYSTEM_PROMPT',
    kind: { type: 'string' },
    description:
      "Text appended to Claude Code's own system prompt for every session (a session or request `system_prompt` replaces it).",
  },
  {
    name: 'CLAUDE_MAX_TURNS',
    kind: { type: 'int', min: 1, max: 1000 },
    default: '25',
    description: 'Default most agentic turns (model calls) per chat request.',
  },
  {
    name: 'CLAUDE_MAX_TURNS_LIMIT',
    kind: { type: 'int', min: 1, max: 1000 },
    default: '100',
    description: 'Highest `max_turns` a session, template or request may ask for (422 beyond).',
  },
  {
    name: 'CLAUDE_ALLOWED_MODELS',
    kind: { type: 'list' },
    default: '',
    description:
      'Models a session, template or request may pick (names or aliases, exactly as clients send them); empty = any model.',
  },
  {
    name: 'CLAUDE_TIMEOUT_SECONDS',
    kind: { type: 'number', min: 1, max: 86400 },
    default: '300',
    description: 'Longest a turn may run; then it is interrupted and the request answers 504.',
  },
  {
    name: 'CLAUDE_PERMISSION_MODE',
    kind: { type: 'enum', values: PERMISSION_MODES },
    default: 'acceptEdits',
    description:
      'Permission mode of Claude Code for every session unless a session or request picks another allowed one.',
  },
  {
    name: 'CLAUDE_ALLOWED_PERMISSION_MODES',
    kind: { type: 'list' },
    default: 'default,acceptEdits,plan,dontAsk,auto',
    description:
      "Permission modes a client may pick per session or request. `bypassPermissions` is never allowed unless listed here. `auto` (the Python seed's example: a model classifier decides what would prompt) grants nothing `acceptEdits` does not: every offered tool is allowed anyway and the workspace guard and ask rules decide before the mode.",
  },
  {
    name: 'CLAUDE_ALLOWED_TOOLS',
    kind: { type: 'list' },
    default: 'Read,Write,Edit,MultiEdit,NotebookEdit,Glob,Grep,LS,Bash,TodoWrite',
    description:
      "The tools Claude Code has at all (others are removed from the session), each allowed without asking. A client's `allowed_tools` can only narrow this list.",
  },
  {
    name: 'CLAUDE_DISALLOWED_TOOLS',
    kind: { type: 'list' },
    default: '',
    description: "Tools removed from every session. A client's `disallowed_tools` adds to this list.",
  },
  // Tool policy, sandbox, budgets, moderation (docs/security.md)
  {
    name: 'SANDBOX_ENABLED',
    kind: { type: 'bool' },
    default: 'true',
    description:
      "Run Bash under Claude Code's OS sandbox (bubblewrap + socat on Linux): writes only in the session's working directory, no reads of other workspaces, the data directory or the CLI's config and transcripts, network off unless SANDBOX_ALLOW_NETWORK. If the sandbox cannot start here, Bash is refused (health says why); `false` lets Bash run unconfined.",
  },
  {
    name: 'SANDBOX_ALLOW_NETWORK',
    kind: { type: 'bool' },
    default: 'false',
    description:
      "Let sandboxed commands reach the network (any host through the sandbox's proxy; loopback stays closed).",
  },
  {
    name: 'SANDBOX_EXCLUDED_COMMANDS',
    kind: { type: 'list' },
    default: '',
    description:
      'Commands (e.g. `docker,git`) that run OUTSIDE the sandbox, unconfined. Only for trusted single-user setups: an excluded command can read and write anything the server can.',
  },
  {
    name: 'SANDBOX_DENY_READ',
    kind: { type: 'list' },
    default: '',
    description:
      "More absolute paths sandboxed commands may not read, besides the built-in ones (workspaces of others, DATA_DIR, the CLI config dir, the server's `.env`, credential folders of HOME).",
  },
  {
    name: 'WALL_ENABLED',
    kind: { type: 'bool' },
    default: 'true',
    description:
      "Run every session's Claude Code process inside its own bubblewrap wall (docs/security.md): read-only system folders, its workspace, its own config folder and `/tmp`, its own pid namespace, no network but the server's model-API proxy, no credentials. Where bubblewrap cannot run here the server falls back to the Bash sandbox alone, says why at start-up and in health, and serves one tenant only unless WALL_UNCONFINED_TENANTS is set.",
  },
  {
    name: 'WALL_UNCONFINED_TENANTS',
    kind: { type: 'bool' },
    default: 'false',
    description:
      'Serve more than one tenant (API key) even though the wall is off or cannot run here. Without the wall, a failed check in one session can reach the others: set it only when every key holder is trusted.',
  },
  {
    name: 'WALL_MEMORY_MB',
    kind: { type: 'int', min: 0, max: 1_048_576 },
    default: '2048',
    description:
      "Most resident memory a session's wall (the CLI and every process its tools start) may use, MiB; past it the wall is ended and the turn fails. 0 = no limit.",
  },
  {
    name: 'WALL_MAX_PROCESSES',
    kind: { type: 'int', min: 0, max: 1_000_000 },
    default: '4096',
    description:
      "Most processes (RLIMIT_NPROC) inside a wall. The kernel counts this limit over every process of the server's user, not per wall, so keep it well above what the host runs as that user. 0 = no limit.",
  },
  {
    name: 'WALL_MAX_FILE_MB',
    kind: { type: 'int', min: 0, max: 16_777_216 },
    default: '1024',
    description: 'Largest file a process inside a wall may write (RLIMIT_FSIZE), MiB. 0 = no limit.',
  },
  {
    name: 'TEST_WORKSPACE_HOOK_OFF',
    kind: { type: 'bool' },
    default: 'false',
    description:
      'TEST ONLY: switch off the PreToolUse workspace hook, so tests show what the wall holds on its own. Refused at start-up unless NODE_ENV=test; never set it in a deployment.',
  },
  {
    name: 'CLAUDE_SETTING_SOURCES',
    kind: { type: 'list' },
    default: 'user',
    description:
      "Which Claude Code settings files the sessions read: `user` (CLAUDE_CONFIG_DIR/settings.json, the operator's), `project` (`.claude/settings.json` and CLAUDE.md in the working directory), `local` (`.claude/settings.local.json`). `project` and `local` let whoever can write into a workspace (the model, a file upload, a cloned repository) add hooks, MCP servers and environment that run on the host outside the sandbox: only for trusted single-user setups.",
  },
  {
    name: 'CLI_ENV_ALLOW',
    kind: { type: 'list' },
    default: '',
    description:
      "More environment variables the Claude Code processes get, by name or `PREFIX_*`, beyond the built-in allow-list (PATH, HOME, locale, proxies, ANTHROPIC_*, CLAUDE_*, AWS_*, GOOGLE_*, VERTEX_* …). The server's own settings and secrets never pass.",
  },
  {
    name: 'CLAUDE_MAX_COST_PER_REQUEST',
    kind: { type: 'number', min: 0.000001, max: 1_000_000 },
    description:
      'Most one turn may spend, in USD: the turn stops there (429 `budget-exceeded`, its partial result kept in history). A session or request may set a lower `max_budget_usd`. A turn with a budget starts on a fresh Claude Code process (resuming the conversation), which adds about half a second. Unset = no limit.',
  },
  {
    name: 'CLAUDE_MAX_COST_PER_USER',
    kind: { type: 'number', min: 0.000001, max: 1_000_000_000 },
    description:
      'Most one API key may spend in all, in USD (the sum over its sessions); once reached, new turns answer 429 `key-budget-exceeded`. A key created with its own budget uses that instead. Unset = no limit.',
  },
  {
    name: 'MODERATION_ENABLED',
    kind: { type: 'bool' },
    default: 'true',
    description:
      'Refuse chat and job messages (and system prompts) that match a moderation rule (422 `moderation-blocked`, naming the rule).',
  },
  {
    name: 'MODERATION_RULES_PATH',
    kind: { type: 'string' },
    defaultText: 'the shipped `moderation/rules.yaml`',
    description:
      'A YAML rules file that replaces the shipped rules; changes are picked up without a restart (an invalid file is refused and the previous rules stay).',
  },
  // Approvals and permission rules (docs/approvals.md)
  {
    name: 'PERMISSION_RULES',
    kind: { type: 'string' },
    defaultText: 'none',
    description:
      'The operator\'s permission rules, as JSON: `{"allow": [...], "ask": [...], "deny": [...]}` in Claude Code\'s rule syntax (`Bash(npm test:*)`, `Write(src/**)`, `WebFetch(domain:example.com)`). They apply to every session; templates, keys, sessions and requests can only add to them. `ask` pauses a tool call for a person\'s answer over the API.',
  },
  {
    name: 'APPROVAL_TIMEOUT_SECONDS',
    kind: { type: 'number', min: 1, max: 86400 },
    default: '300',
    description:
      'How long an approval or a question waits for a person; then the tool call is denied (the model is told nobody answered). This wait does not count against CLAUDE_TIMEOUT_SECONDS.',
  },
  // Templates and MCP
  {
    name: 'TEMPLATES_PATH',
    kind: { type: 'string' },
    defaultText: "`./templates.yml` when that file exists (the Python seed's templates file), else none",
    description:
      "A YAML file, or a folder of `*.yaml` files, with agent templates added to the shipped ones (`templates/default.yaml`); a template of the same name replaces the shipped one. Our format (`templates:` mapping) or the seed's (a top-level map of name → profile, tool lists comma-separated). Changes are picked up automatically; an invalid file is refused and the previous templates stay.",
  },
  {
    name: 'TEMPLATES_WATCH',
    kind: { type: 'bool' },
    default: 'true',
    description:
      'Reload the templates when a file in TEMPLATES_PATH changes (`POST /api/v1/templates/reload` works either way).',
  },
  {
    name: 'MCP_ENABLED',
    kind: { type: 'bool' },
    default: 'true',
    description: 'Serve the MCP server (Streamable HTTP) at `/mcp`, behind the same API keys as the REST API.',
  },
  {
    name: 'MCP_API_KEY',
    kind: { type: 'string' },
    description:
      'The API key whose tenant `claude-code-api mcp` (MCP over stdio) acts as: any valid key (API_KEYS, ADMIN_API_KEYS or one created with `keys create`). Not needed in open mode (the `local` tenant).',
    secret: true,
  },
  // Engine
  {
    name: 'MAX_LIVE_SESSIONS',
    kind: { type: 'int', min: 1, max: 10_000 },
    default: '8',
    description:
      'Most live Claude Code processes (one per active session). The least recently used idle one is closed to make room; it resumes transparently.',
  },
  {
    name: 'WARM_SPARES',
    kind: { type: 'int', min: 0, max: 100 },
    default: '1',
    description:
      "Claude Code processes kept started ahead of need, each in its own wall with a default session's options; a new session's first turn whose options match takes one (about 2x faster), any other starts cold. They count against MAX_LIVE_SESSIONS and are the first closed when it is full or free memory is low. Needs the wall. 0 = none.",
  },
  {
    name: 'MAX_LIVE_SESSIONS_PER_KEY',
    kind: { type: 'int', min: 1, max: 10_000 },
    defaultText: 'half of MAX_LIVE_SESSIONS, rounded up',
    description:
      "Most live Claude Code processes one API key may hold; a key at its share closes its own least recently used idle process to start another, so it never takes other keys' processes beyond that. At most MAX_LIVE_SESSIONS, and at least MAX_CONCURRENT_TURNS_PER_KEY.",
  },
  {
    name: 'SESSION_IDLE_SECONDS',
    kind: { type: 'number', min: 1, max: 604_800 },
    default: '600',
    description: "An idle session's process is closed after this long (the conversation resumes on its next turn).",
  },
  {
    name: 'MAX_CONCURRENT_TURNS',
    kind: { type: 'int', min: 1, max: 10_000 },
    default: '4',
    description: 'Most turns running at once across all sessions; must not exceed MAX_LIVE_SESSIONS.',
  },
  {
    name: 'TURN_STALL_SECONDS',
    kind: { type: 'number', min: 0, max: 86400 },
    default: '180',
    description:
      'A running turn whose process sends no event for this long is interrupted, then its process killed; the request answers 504 `stalled`. 0 turns the watchdog off.',
  },
  {
    name: 'CLI_MAX_RSS_MB',
    kind: { type: 'int', min: 0, max: 1_048_576 },
    default: '1536',
    description:
      "Most resident memory one session's Claude Code process (with the processes it started) may use, MiB, measured every 2 s: an idle process past it is recycled, a busy one is ended and its turn fails (502 `memory-exceeded`). 0 = no ceiling.",
  },
  {
    name: 'MAX_CONCURRENT_TURNS_PER_KEY',
    kind: { type: 'int', min: 1, max: 10_000 },
    defaultText: 'half of MAX_CONCURRENT_TURNS, rounded up',
    description:
      "Most turns one API key may run at once (chat, streams, jobs and MCP together). A key's further turns wait, and another key's turn takes the next free slot first; a turn that waits TURN_QUEUE_TIMEOUT_SECONDS answers 503 with Retry-After. At most MAX_CONCURRENT_TURNS.",
  },
  {
    name: 'TURN_QUEUE_TIMEOUT_SECONDS',
    kind: { type: 'number', min: 0, max: 3600 },
    default: '30',
    description: 'Longest a turn waits for a free slot before the request answers 503 with Retry-After.',
  },
  {
    name: 'SESSION_QUEUE_LIMIT',
    kind: { type: 'int', min: 0, max: 1000 },
    default: '8',
    description: "Most requests waiting behind a session's running turn; one more answers 409.",
  },
  {
    name: 'MAX_SESSIONS_PER_USER',
    kind: { type: 'int', min: 1, max: 1_000_000 },
    default: '100',
    description: 'Most sessions one API key may hold (409 beyond).',
  },
  {
    name: 'COMPAT_SESSION_IDLE_HOURS',
    kind: { type: 'number', min: 0, max: 87_600 },
    default: '24',
    description:
      'Sessions the OpenAI- and Anthropic-compatible endpoints open by themselves (no X-Session-Name) are deleted, workspace and all, after this many hours without a turn; a key at MAX_SESSIONS_PER_USER also recycles its least recently used one. 0 = keep them until deleted.',
  },
  {
    name: 'CHAT_DISCONNECT',
    kind: { type: 'enum', values: ['interrupt', 'continue'] },
    default: 'interrupt',
    description:
      'What happens to a turn when the client of a sync or streamed chat goes away: `interrupt` it, or let it `continue` (its result lands in history and can be re-attached with Last-Event-ID).',
  },
  {
    name: 'SSE_HEARTBEAT_SECONDS',
    kind: { type: 'number', min: 0.01, max: 3600 },
    default: '15',
    description: 'Interval of the `: ping` comment on open event streams.',
  },
  {
    name: 'TURN_REPLAY_SECONDS',
    kind: { type: 'number', min: 0, max: 86400 },
    default: '300',
    description: "How long a finished turn's events stay in memory for `Last-Event-ID` reconnects.",
  },
  // Operations
  {
    name: 'METRICS_ENABLED',
    kind: { type: 'bool' },
    default: 'true',
    description: 'Serve Prometheus metrics at `GET /metrics`.',
  },
  {
    name: 'METRICS_AUTH',
    kind: { type: 'enum', values: ['api_key', 'none'] },
    default: 'api_key',
    description:
      '`api_key`: `/metrics` needs a valid API key like the API; `none`: open to anyone who can reach the port (put it behind your network).',
  },
  {
    name: 'SHUTDOWN_GRACE_SECONDS',
    kind: { type: 'number', min: 0, max: 3600 },
    default: '10',
    description: 'On SIGTERM/SIGINT, how long running turns may finish before they are interrupted.',
  },
  // Several nodes (docs/scaling.md)
  {
    name: 'NODE_ROLE',
    kind: { type: 'enum', values: ['all', 'api', 'worker'] },
    default: 'all',
    description:
      '`all`: this node serves the API and runs jobs; `api`: serves the API only (its jobs run on worker nodes); `worker`: runs jobs only (serves health and metrics, no API). Roles matter with REDIS_URL and a shared PostgreSQL database.',
  },
  {
    name: 'NODE_ID',
    kind: { type: 'string' },
    defaultText: '`<hostname>-<pid>`',
    description:
      "This node's name in a cluster: the owner recorded on the sessions it runs, shown in health and metrics. Must differ between nodes.",
  },
  {
    name: 'NODE_URL',
    kind: { type: 'string' },
    defaultText: '`http://<HOST>:<PORT>` (loopback when HOST is 0.0.0.0)',
    description:
      'The base URL other nodes use to reach this node, when they forward a request for a session this node owns.',
  },
  {
    name: 'CLUSTER_ENABLED',
    kind: { type: 'bool' },
    default: 'false',
    description:
      'Run as one node of several: sessions are owned through leases in Redis, requests for a session another node runs are forwarded to it, turn events go through Redis Streams. Needs REDIS_URL and a PostgreSQL DATABASE_URL (SQLite is refused), and DATA_DIR and APPROVED_DIRECTORY on storage every node sees.',
  },
  {
    name: 'SESSION_LEASE_SECONDS',
    kind: { type: 'number', min: 1, max: 600 },
    default: '15',
    description:
      "How long a node's claim on a session lasts without renewal (renewed every third of it while the session's process lives). After a node died, its sessions move to another node this long after its last renewal.",
  },
  // Jobs, webhooks, idempotency
  {
    name: 'JOB_CONCURRENCY',
    kind: { type: 'int', min: 1, max: 10_000 },
    defaultText: 'MAX_CONCURRENT_TURNS',
    description:
      'Most jobs whose turns run (or wait for a turn slot) at once; a session never runs more than one job at a time. Lower it to keep turn slots free for chat.',
  },
  {
    name: 'JOB_RETRY_ON_RESTART',
    kind: { type: 'bool' },
    default: 'true',
    description:
      'A job that was running when the server stopped or died is re-queued once at start-up (its session resumes); `false` marks it failed instead.',
  },
  {
    name: 'JOB_LOCK_SECONDS',
    kind: { type: 'number', min: 1, max: 3600 },
    default: '30',
    description:
      "With REDIS_URL: how long a node's hold on a running job (and its session) lasts without being renewed. A node that dies mid-job loses its jobs after about this long (up to twice it), and another node runs them again (JOB_RETRY_ON_RESTART).",
  },
  {
    name: 'JOB_STARTS_PER_KEY',
    kind: { type: 'int', min: 0, max: 1_000_000 },
    default: '0',
    description:
      'Most jobs one API key may start per JOB_STARTS_WINDOW_SECONDS (a sliding window); 0 = no limit. A job over it is not failed: it waits until the window has room and starts in its turn. With REDIS_URL it holds across nodes.',
  },
  {
    name: 'JOB_STARTS_WINDOW_SECONDS',
    kind: { type: 'number', min: 1, max: 86_400 },
    default: '60',
    description: 'Length of the JOB_STARTS_PER_KEY window, in seconds.',
  },
  {
    name: 'WEBHOOK_URL',
    kind: { type: 'string' },
    description:
      "An http(s) URL that receives every job event (`job.started`, `job.succeeded`, `job.failed`, `job.cancelled`) in addition to a job's own `webhook_url`.",
    secret: true,
  },
  {
    name: 'WEBHOOK_SECRET',
    kind: { type: 'string' },
    defaultText: 'generated once and kept in `<DATA_DIR>/webhook-secret`',
    description: 'Standard Webhooks signing secret, `whsec_` followed by 24–64 random bytes in base64.',
    secret: true,
  },
  {
    name: 'WEBHOOK_MAX_ATTEMPTS',
    kind: { type: 'int', min: 1, max: 50 },
    default: '6',
    description: 'Most delivery attempts of one webhook message before it is given up.',
  },
  {
    name: 'WEBHOOK_TIMEOUT_SECONDS',
    kind: { type: 'number', min: 0.05, max: 300 },
    default: '10',
    description: 'Longest one delivery attempt may take (connect, send, response) before it counts as failed.',
  },
  {
    name: 'WEBHOOK_RETRY_BASE_SECONDS',
    kind: { type: 'number', min: 0.01, max: 86_400 },
    default: '10',
    description:
      'Delay before the first retry; each further retry doubles it (with random jitter of up to half), up to WEBHOOK_RETRY_MAX_SECONDS.',
  },
  {
    name: 'WEBHOOK_RETRY_MAX_SECONDS',
    kind: { type: 'number', min: 0.01, max: 604_800 },
    default: '3600',
    description: 'Longest delay between two delivery attempts.',
  },
  {
    name: 'WEBHOOK_ALLOW_PRIVATE',
    kind: { type: 'bool' },
    default: 'false',
    description:
      'Allow webhook URLs that resolve to loopback, private, link-local, metadata or other internal addresses (refused by default, when a job is created and again at every delivery).',
  },
  {
    name: 'IDEMPOTENCY_TTL_SECONDS',
    kind: { type: 'number', min: 1, max: 2_592_000 },
    default: '86400',
    description: 'How long an `Idempotency-Key` and the response it produced are remembered.',
  },
] as const;
