// Loads `.env` and the environment, validates every setting against the table, and returns one typed Config.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { readSeedEnvironment } from './seed.js';
import { SEED_TEMPLATES_FILE, SETTINGS, type SettingSpec, PERMISSION_MODES, EFFORT_LEVELS } from './settings.js';
import { checkRules, type PermissionRules } from '../approvals/rules.js';

export type PermissionMode = (typeof PERMISSION_MODES)[number];
export type EffortLevel = (typeof EFFORT_LEVELS)[number];

/** The OS wall around each session's Claude Code process. */
export interface WallSettings {
  /** WALL_ENABLED */
  enabled: boolean;
  /** WALL_UNCONFINED_TENANTS: serve several tenants without the wall. */
  unconfinedTenants: boolean;
  /** WALL_MEMORY_MB in bytes; 0 = none. */
  memoryBytes: number;
  /** WALL_MAX_PROCESSES; 0 = none. */
  maxProcesses: number;
  /** WALL_MAX_FILE_MB in bytes; 0 = none. */
  maxFileBytes: number;
}

/** This node's place in a cluster (several nodes on one PostgreSQL database and one Redis). */
export interface NodeSettings {
  /** NODE_ROLE: `all` serves the API and runs jobs, `api` only the API, `worker` only jobs. */
  role: 'all' | 'api' | 'worker';
  /** NODE_ID: unique per node. */
  id: string;
  /** NODE_URL: how other nodes reach this one. */
  url: string;
  /** CLUSTER_ENABLED: session leases, forwarding and shared events (needs REDIS_URL and PostgreSQL). */
  cluster: boolean;
  /** SESSION_LEASE_SECONDS, ms. */
  leaseMs: number;
}

export interface Config {
  port: number;
  host: string;
  /** OPEN_MODE_ALLOW_REMOTE: open mode may listen beyond loopback. */
  openModeAllowRemote: boolean;
  logLevel: string;
  bodyLimitBytes: number;
  /** Request time limits, ms (0 = none): a whole request's receipt, a body's stall, an idle keep-alive connection. */
  timeouts: { requestMs: number; bodyIdleMs: number; keepAliveMs: number };
  maxMessageChars: number;
  apiKeys: string[];
  /** Keys with the admin scope (ADMIN_API_KEYS). */
  adminApiKeys: string[];
  /** How long a database key lookup stays cached (API_KEY_CACHE_SECONDS), ms. */
  keyCacheMs: number;
  /** How often the revoked keys are counted (KEY_REVOCATION_CHECK_SECONDS), ms. */
  revocationCheckMs: number;
  /** Requests per window per key or IP (0 = no limit) and the window, ms. */
  rateLimit: { requests: number; windowMs: number };
  /** Redis for shared rate-limit counters (REDIS_URL unset = in memory); every key starts with keyPrefix. */
  redis: { url?: string; keyPrefix: string };
  node: NodeSettings;
  /** Origins allowed by CORS (empty = no CORS headers; `*` only when listed). */
  corsOrigins: string[];
  dataDir: string;
  databaseUrl: string;
  /** SQLITE_READ_CACHE_MB in bytes (0 = off). */
  sqliteReadCacheBytes: number;
  approvedDirectory: string;
  claude: {
    cliPath?: string;
    configDir?: string;
    model?: string;
    effort?: EffortLevel;
    systemPrompt?: string;
    maxTurns: number;
    maxTurnsLimit: number;
    allowedModels: string[];
    timeoutMs: number;
    permissionMode: PermissionMode;
    allowedPermissionModes: PermissionMode[];
    allowedTools: string[];
    disallowedTools: string[];
    /** CLAUDE_MAX_COST_PER_REQUEST: the most one turn may spend, USD. */
    maxCostPerRequest?: number;
  };
  engine: {
    maxLiveSessions: number;
    /** MAX_LIVE_SESSIONS_PER_KEY. */
    maxLiveSessionsPerKey: number;
    sessionIdleMs: number;
    /** TURN_STALL_SECONDS, ms (0: off). */
    stallMs: number;
    /** CLI_MAX_RSS_MB, bytes (0: off). */
    maxRssBytes: number;
    /** WARM_SPARES (0: none). */
    warmSpares: number;
    maxConcurrentTurns: number;
    /** MAX_CONCURRENT_TURNS_PER_KEY. */
    maxConcurrentTurnsPerKey: number;
    turnQueueTimeoutMs: number;
    sessionQueueLimit: number;
    chatDisconnect: 'interrupt' | 'continue';
    heartbeatMs: number;
    replayMs: number;
    shutdownGraceMs: number;
  };
  maxSessionsPerUser: number;
  /** COMPAT_SESSION_IDLE_HOURS in ms (0 = never). */
  compatSessionIdleMs: number;
  /** Tool policy, sandbox, budgets and moderation (docs/security.md). */
  security: {
    sandbox: { enabled: boolean; allowNetwork: boolean; excludedCommands: string[]; denyRead: string[] };
    /** The OS wall around each session's process (src/engine/wall/). */
    wall: WallSettings;
    /** TEST ONLY: the PreToolUse workspace hook is off. */
    workspaceHookOff: boolean;
    /** CLI_ENV_ALLOW: more variables passed to the CLI. */
    cliEnvAllow: string[];
    /** CLAUDE_SETTING_SOURCES: the settings files Claude Code reads (`user`, `project`, `local`). */
    settingSources: Array<'user' | 'project' | 'local'>;
    /** CLAUDE_MAX_COST_PER_USER, USD. */
    maxCostPerUser?: number;
    moderation: { enabled: boolean; rulesPath?: string };
  };
  approvals: {
    /** PERMISSION_RULES: the operator's rules, the first of the levels (template, key, session, request add to them). */
    rules: PermissionRules;
    /** APPROVAL_TIMEOUT_SECONDS, ms. */
    timeoutMs: number;
  };
  /** The files API: MAX_UPLOAD_MB in bytes, MAX_LIST_ENTRIES. */
  files: { maxUploadBytes: number; maxListEntries: number };
  templates: {
    /** TEMPLATES_PATH: a YAML file or folder of YAML files added to the shipped templates. */
    path?: string;
    /** Reload when a TEMPLATES_PATH file changes (TEMPLATES_WATCH). */
    watch: boolean;
  };
  mcp: {
    /** Serve MCP over Streamable HTTP at /mcp (MCP_ENABLED). */
    enabled: boolean;
    /** The key whose tenant the stdio MCP server acts as (MCP_API_KEY). */
    apiKey?: string;
  };
  metrics: { enabled: boolean; auth: 'api_key' | 'none' };
  jobs: {
    /** Most jobs running or waiting for a turn slot at once (JOB_CONCURRENCY). */
    concurrency: number;
    /** Re-queue (once) a job that was running when the server died (JOB_RETRY_ON_RESTART). */
    retryOnRestart: boolean;
    /** With Redis: how long a node's hold on a running job lasts without renewal (JOB_LOCK_SECONDS), ms. */
    lockMs: number;
    /** Jobs one key may start per window (JOB_STARTS_PER_KEY, JOB_STARTS_WINDOW_SECONDS); undefined = no limit. */
    startsPerKey?: { limit: number; windowMs: number };
  };
  webhooks: {
    /** Receives every job event besides a job's own webhook_url (WEBHOOK_URL). */
    url?: string;
    /** `whsec_…` signing secret; undefined = generated and kept in DATA_DIR. */
    secret?: string;
    maxAttempts: number;
    timeoutMs: number;
    retryBaseMs: number;
    retryMaxMs: number;
    /** Allow targets on loopback, private, link-local … addresses (WEBHOOK_ALLOW_PRIVATE). */
    allowPrivate: boolean;
  };
  /** How long an Idempotency-Key and its response are kept (IDEMPOTENCY_TTL_SECONDS), ms. */
  idempotencyTtlMs: number;
  /** The names of environment variables whose values must never reach a CLI process. */
  secretNames: string[];
  /** Serve Swagger UI at /docs and the OpenAPI document at /openapi.json (ENABLE_DOCS). */
  docs: boolean;
  /** What the settings themselves give cause to warn about at start-up (said in the log and in health). */
  warnings: string[];
}

/** PERMISSION_RULES parsed and checked: a JSON object of `allow`/`ask`/`deny` lists of valid rules. */
function operatorRules(text: string | undefined): PermissionRules {
  if (text === undefined || text.trim() === '') return {};
  const bad = (why: string) => new ConfigError(`Invalid environment variable PERMISSION_RULES: ${why}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad('not valid JSON (expected {"allow": [...], "ask": [...], "deny": [...]})');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw bad('expected a JSON object');
  const rules: PermissionRules = {};
  for (const [key, list] of Object.entries(value)) {
    if (key !== 'allow' && key !== 'ask' && key !== 'deny') throw bad(`unknown key ${JSON.stringify(key)}`);
    if (!Array.isArray(list) || list.some((r) => typeof r !== 'string')) throw bad(`${key} must be a list of strings`);
    rules[key] = list as string[];
  }
  const problem = checkRules(rules)[0];
  if (problem) throw bad(`${problem.outcome}[${problem.index}]: ${problem.message}`);
  return rules;
}

/** A bad setting: the message is one line naming the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Raw = Record<string, string | undefined>;

/** `a, b,,c` → ['a', 'b', 'c']: the comma-separated lists of settings (and of the Python seed's tool lists). */
export function commaList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
type Parsed = number | boolean | string | string[] | undefined;

function parseOne(spec: SettingSpec, raw: string | undefined): Parsed {
  const text = raw === undefined || raw.trim() === '' ? spec.default : raw.trim();
  if (text === undefined) return undefined;
  const fail = (why: string): never => {
    const shown = spec.secret ? '(hidden)' : JSON.stringify(raw);
    throw new ConfigError(`Invalid environment variable ${spec.name}: ${why} (got ${shown})`);
  };
  const k = spec.kind;
  switch (k.type) {
    case 'int':
    case 'number': {
      const n = Number(text);
      if (!Number.isFinite(n) || (k.type === 'int' && !Number.isInteger(n)))
        fail(`must be ${k.type === 'int' ? 'an integer' : 'a number'}`);
      if ((k.min !== undefined && n < k.min) || (k.max !== undefined && n > k.max))
        fail(`must be between ${k.min} and ${k.max}`);
      return n;
    }
    case 'bool': {
      const v = text.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      return fail('must be true or false');
    }
    case 'enum':
      if (!k.values.includes(text)) fail(`must be one of ${k.values.join(', ')}`);
      return text;
    case 'list':
      return commaList(text);
    case 'string':
      return text;
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** A Standard Webhooks secret: `whsec_` and 24–64 bytes in base64. */
export function isWebhookSecret(value: string): boolean {
  const body = value.startsWith('whsec_') ? value.slice('whsec_'.length) : undefined;
  if (body === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return false;
  const bytes = Buffer.from(body, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

/** Reads `.env` (if present, without overriding real variables) into process.env. */
export function loadDotenvFile(path = '.env'): void {
  loadDotenv({ path, quiet: true });
}

const SETTING_SOURCES = ['user', 'project', 'local'] as const;

function settingSources(names: string[]): Array<(typeof SETTING_SOURCES)[number]> {
  for (const n of names) {
    if (!(SETTING_SOURCES as readonly string[]).includes(n)) {
      throw new ConfigError(
        `Invalid environment variable CLAUDE_SETTING_SOURCES: unknown source ${JSON.stringify(n)} (any of ${SETTING_SOURCES.join(', ')})`,
      );
    }
  }
  return [...new Set(names)] as Array<(typeof SETTING_SOURCES)[number]>;
}

/** The Python seed's templates file, `templates.yml` in the working directory, when there is one. */
function seedTemplatesFile(): string | undefined {
  const file = resolve(SEED_TEMPLATES_FILE);
  return existsSync(file) ? file : undefined;
}

export function loadConfig(given: Raw = process.env): Config {
  const { env, warnings } = readSeedEnvironment(given);
  const v = new Map<string, Parsed>();
  for (const spec of SETTINGS) v.set(spec.name, parseOne(spec, env[spec.name]));
  const num = (n: string) => v.get(n) as number;
  const str = (n: string) => v.get(n) as string | undefined;
  const list = (n: string) => (v.get(n) as string[] | undefined) ?? [];

  const apiKeys = list('API_KEYS');
  // The seed's .env.example ships `API_KEYS=key1,key2`: such keys still work, but the start says how weak they are.
  const short = apiKeys.filter((key) => key.length < 8).length;
  if (short > 0)
    warnings.push(
      `API_KEYS holds ${short} key(s) shorter than 8 characters: they can be guessed. Use long random keys (e.g. \`openssl rand -hex 32\`).`,
    );
  const adminApiKeys = list('ADMIN_API_KEYS');
  for (const key of adminApiKeys) {
    if (key.length < 8)
      throw new ConfigError(
        'Invalid environment variable ADMIN_API_KEYS: every key must be at least 8 characters long',
      );
    if (apiKeys.includes(key))
      throw new ConfigError('Invalid environment variable ADMIN_API_KEYS: a key must not also be in API_KEYS');
  }
  const redisUrl = str('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError(
      'Invalid environment variable REDIS_URL: must start with redis:// or rediss:// (got a value of another form)',
    );
  }
  const corsOrigins = list('CORS_ORIGINS');
  for (const origin of corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(
        `Invalid environment variable CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://app.example.com (no path) or *`,
      );
    }
  }
  const modes = list('CLAUDE_ALLOWED_PERMISSION_MODES');
  for (const m of modes) {
    if (!(PERMISSION_MODES as readonly string[]).includes(m)) {
      throw new ConfigError(
        `Invalid environment variable CLAUDE_ALLOWED_PERMISSION_MODES: unknown mode ${JSON.stringify(m)} (one of ${PERMISSION_MODES.join(', ')})`,
      );
    }
  }
  const permissionMode = str('CLAUDE_PERMISSION_MODE') as PermissionMode;
  const maxLive = num('MAX_LIVE_SESSIONS');
  const maxTurns = num('MAX_CONCURRENT_TURNS');
  if (maxTurns > maxLive) {
    throw new ConfigError(
      `Invalid environment variable MAX_CONCURRENT_TURNS: must not exceed MAX_LIVE_SESSIONS (${maxLive}) (got ${maxTurns})`,
    );
  }
  const liveShare = (v.get('MAX_LIVE_SESSIONS_PER_KEY') as number | undefined) ?? Math.ceil(maxLive / 2);
  const turnShare = (v.get('MAX_CONCURRENT_TURNS_PER_KEY') as number | undefined) ?? Math.ceil(maxTurns / 2);
  if (liveShare > maxLive)
    throw new ConfigError(
      `Invalid environment variable MAX_LIVE_SESSIONS_PER_KEY: must not exceed MAX_LIVE_SESSIONS (${maxLive}) (got ${liveShare})`,
    );
  if (turnShare > maxTurns)
    throw new ConfigError(
      `Invalid environment variable MAX_CONCURRENT_TURNS_PER_KEY: must not exceed MAX_CONCURRENT_TURNS (${maxTurns}) (got ${turnShare})`,
    );
  if (turnShare > liveShare)
    throw new ConfigError(
      `Invalid environment variable MAX_CONCURRENT_TURNS_PER_KEY: must not exceed MAX_LIVE_SESSIONS_PER_KEY (${liveShare}) (got ${turnShare})`,
    );
  const dataDir = resolve(str('DATA_DIR')!);
  const databaseUrl = str('DATABASE_URL') ?? `sqlite:${resolve(dataDir, 'claude-code-api.db')}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(
      'Invalid environment variable DATABASE_URL: must start with sqlite: or postgres:// (got a value of another form)',
    );
  }
  const cliPath = str('CLAUDE_CLI_PATH');
  const webhookUrl = str('WEBHOOK_URL');
  if (webhookUrl !== undefined && !isHttpUrl(webhookUrl)) {
    throw new ConfigError(
      'Invalid environment variable WEBHOOK_URL: must be an http:// or https:// URL (got a value of another form)',
    );
  }
  const workspaceHookOff = v.get('TEST_WORKSPACE_HOOK_OFF') as boolean;
  if (workspaceHookOff && env.NODE_ENV !== 'test') {
    throw new ConfigError(
      'Invalid environment variable TEST_WORKSPACE_HOOK_OFF: it switches the workspace hook off for tests and is refused unless NODE_ENV=test',
    );
  }
  const webhookSecret = str('WEBHOOK_SECRET');
  if (webhookSecret !== undefined && !isWebhookSecret(webhookSecret)) {
    throw new ConfigError(
      'Invalid environment variable WEBHOOK_SECRET: must be whsec_ followed by 24 to 64 bytes in base64 (got a value of another form)',
    );
  }
  const nodeUrl = str('NODE_URL');
  if (nodeUrl !== undefined && !isHttpUrl(nodeUrl)) {
    throw new ConfigError(
      'Invalid environment variable NODE_URL: must be an http:// or https:// URL (got a value of another form)',
    );
  }
  const nodeRole = str('NODE_ROLE') as NodeSettings['role'];
  if (nodeRole !== 'all' && redisUrl === undefined) {
    throw new ConfigError(
      `Invalid environment variable NODE_ROLE: \`${nodeRole}\` needs REDIS_URL (the job queue shared by the nodes); without Redis a node must serve the API and run its own jobs (NODE_ROLE=all)`,
    );
  }
  const nodeId = str('NODE_ID') ?? `${hostname()}-${String(process.pid)}`;
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(nodeId)) {
    throw new ConfigError(
      'Invalid environment variable NODE_ID: 1 to 128 letters, digits, dots, dashes or underscores',
    );
  }
  if (v.get('CLUSTER_ENABLED') === true) {
    if (redisUrl === undefined)
      throw new ConfigError(
        'CLUSTER_ENABLED=true needs REDIS_URL: the nodes hold their session leases and share turn events there',
      );
    if (databaseUrl.startsWith('sqlite:'))
      throw new ConfigError(
        'CLUSTER_ENABLED=true needs a PostgreSQL DATABASE_URL: several nodes cannot share one SQLite file (docs/scaling.md)',
      );
  }
  return {
    // PORT and HOST win over the seed's API_PORT and API_HOST.
    port: env.PORT?.trim() ? num('PORT') : ((v.get('API_PORT') as number | undefined) ?? num('PORT')),
    host: str('HOST') ?? str('API_HOST') ?? (apiKeys.length + adminApiKeys.length > 0 ? '0.0.0.0' : '127.0.0.1'),
    openModeAllowRemote: v.get('OPEN_MODE_ALLOW_REMOTE') as boolean,
    logLevel: str('LOG_LEVEL')!,
    bodyLimitBytes: Math.round(num('BODY_LIMIT_MB') * 1024 * 1024),
    timeouts: {
      requestMs: num('REQUEST_TIMEOUT_SECONDS') * 1000,
      bodyIdleMs: num('BODY_IDLE_TIMEOUT_SECONDS') * 1000,
      keepAliveMs: num('KEEP_ALIVE_TIMEOUT_SECONDS') * 1000,
    },
    maxMessageChars: num('MAX_MESSAGE_CHARS'),
    apiKeys,
    adminApiKeys,
    keyCacheMs: num('API_KEY_CACHE_SECONDS') * 1000,
    revocationCheckMs: Math.round(num('KEY_REVOCATION_CHECK_SECONDS') * 1000),
    rateLimit: { requests: num('RATE_LIMIT_REQUESTS'), windowMs: num('RATE_LIMIT_WINDOW') * 1000 },
    redis: { url: redisUrl, keyPrefix: str('REDIS_KEY_PREFIX') ?? 'claude-code-api:' },
    node: {
      role: nodeRole,
      id: nodeId,
      cluster: v.get('CLUSTER_ENABLED') as boolean,
      leaseMs: Math.round(num('SESSION_LEASE_SECONDS') * 1000),
      url:
        nodeUrl?.replace(/\/+$/, '') ??
        localNodeUrl(
          str('HOST') ?? str('API_HOST'),
          env.PORT?.trim() ? num('PORT') : ((v.get('API_PORT') as number | undefined) ?? num('PORT')),
        ),
    },
    corsOrigins,
    dataDir,
    databaseUrl,
    sqliteReadCacheBytes: Math.round(num('SQLITE_READ_CACHE_MB') * 1024 * 1024),
    approvedDirectory: resolve(str('APPROVED_DIRECTORY')!),
    claude: {
      cliPath: cliPath ? resolve(cliPath) : undefined,
      configDir: str('CLAUDE_CONFIG_DIR') ? resolve(str('CLAUDE_CONFIG_DIR')!) : undefined,
      model: str('CLAUDE_MODEL'),
      effort: str('CLAUDE_EFFORT') as EffortLevel | undefined,
      systemPrompt: str('CLAUDE_SYSTEM_PROMPT'),
      maxTurns: num('CLAUDE_MAX_TURNS'),
      maxTurnsLimit: Math.max(num('CLAUDE_MAX_TURNS_LIMIT'), num('CLAUDE_MAX_TURNS')),
      allowedModels: list('CLAUDE_ALLOWED_MODELS'),
      timeoutMs: num('CLAUDE_TIMEOUT_SECONDS') * 1000,
      permissionMode,
      allowedPermissionModes: [...new Set([...(modes as PermissionMode[]), permissionMode])],
      allowedTools: list('CLAUDE_ALLOWED_TOOLS'),
      disallowedTools: list('CLAUDE_DISALLOWED_TOOLS'),
      maxCostPerRequest: v.get('CLAUDE_MAX_COST_PER_REQUEST') as number | undefined,
    },
    engine: {
      maxLiveSessions: maxLive,
      maxLiveSessionsPerKey: liveShare,
      sessionIdleMs: num('SESSION_IDLE_SECONDS') * 1000,
      stallMs: num('TURN_STALL_SECONDS') * 1000,
      maxRssBytes: num('CLI_MAX_RSS_MB') * 1024 * 1024,
      warmSpares: num('WARM_SPARES'),
      maxConcurrentTurns: maxTurns,
      maxConcurrentTurnsPerKey: turnShare,
      turnQueueTimeoutMs: num('TURN_QUEUE_TIMEOUT_SECONDS') * 1000,
      sessionQueueLimit: num('SESSION_QUEUE_LIMIT'),
      chatDisconnect: str('CHAT_DISCONNECT') as 'interrupt' | 'continue',
      heartbeatMs: num('SSE_HEARTBEAT_SECONDS') * 1000,
      replayMs: num('TURN_REPLAY_SECONDS') * 1000,
      shutdownGraceMs: num('SHUTDOWN_GRACE_SECONDS') * 1000,
    },
    maxSessionsPerUser: num('MAX_SESSIONS_PER_USER'),
    compatSessionIdleMs: Math.round(num('COMPAT_SESSION_IDLE_HOURS') * 3_600_000),
    security: {
      sandbox: {
        enabled: v.get('SANDBOX_ENABLED') as boolean,
        allowNetwork: v.get('SANDBOX_ALLOW_NETWORK') as boolean,
        excludedCommands: list('SANDBOX_EXCLUDED_COMMANDS'),
        denyRead: list('SANDBOX_DENY_READ').map((p) => resolve(p)),
      },
      wall: {
        enabled: v.get('WALL_ENABLED') as boolean,
        unconfinedTenants: v.get('WALL_UNCONFINED_TENANTS') as boolean,
        memoryBytes: num('WALL_MEMORY_MB') * 1024 * 1024,
        maxProcesses: num('WALL_MAX_PROCESSES'),
        maxFileBytes: num('WALL_MAX_FILE_MB') * 1024 * 1024,
      },
      workspaceHookOff,
      cliEnvAllow: list('CLI_ENV_ALLOW'),
      settingSources: settingSources(list('CLAUDE_SETTING_SOURCES')),
      maxCostPerUser: v.get('CLAUDE_MAX_COST_PER_USER') as number | undefined,
      moderation: {
        enabled: v.get('MODERATION_ENABLED') as boolean,
        rulesPath: str('MODERATION_RULES_PATH') ? resolve(str('MODERATION_RULES_PATH')!) : undefined,
      },
    },
    approvals: { rules: operatorRules(str('PERMISSION_RULES')), timeoutMs: num('APPROVAL_TIMEOUT_SECONDS') * 1000 },
    files: { maxUploadBytes: Math.round(num('MAX_UPLOAD_MB') * 1024 * 1024), maxListEntries: num('MAX_LIST_ENTRIES') },
    templates: {
      path: str('TEMPLATES_PATH') ? resolve(str('TEMPLATES_PATH')!) : seedTemplatesFile(),
      watch: v.get('TEMPLATES_WATCH') as boolean,
    },
    mcp: { enabled: v.get('MCP_ENABLED') as boolean, apiKey: str('MCP_API_KEY') },
    metrics: { enabled: v.get('METRICS_ENABLED') as boolean, auth: str('METRICS_AUTH') as 'api_key' | 'none' },
    jobs: {
      concurrency: (v.get('JOB_CONCURRENCY') as number | undefined) ?? maxTurns,
      retryOnRestart: v.get('JOB_RETRY_ON_RESTART') as boolean,
      lockMs: Math.round(num('JOB_LOCK_SECONDS') * 1000),
      startsPerKey:
        num('JOB_STARTS_PER_KEY') > 0
          ? { limit: num('JOB_STARTS_PER_KEY'), windowMs: Math.round(num('JOB_STARTS_WINDOW_SECONDS') * 1000) }
          : undefined,
    },
    webhooks: {
      url: webhookUrl,
      secret: webhookSecret,
      maxAttempts: num('WEBHOOK_MAX_ATTEMPTS'),
      timeoutMs: num('WEBHOOK_TIMEOUT_SECONDS') * 1000,
      retryBaseMs: num('WEBHOOK_RETRY_BASE_SECONDS') * 1000,
      retryMaxMs: num('WEBHOOK_RETRY_MAX_SECONDS') * 1000,
      allowPrivate: v.get('WEBHOOK_ALLOW_PRIVATE') as boolean,
    },
    idempotencyTtlMs: num('IDEMPOTENCY_TTL_SECONDS') * 1000,
    secretNames: SETTINGS.filter((s) => s.secret).map((s) => s.name),
    docs: v.get('ENABLE_DOCS') as boolean,
    warnings,
  };
}

/** The URL other nodes use by default: the listening address, with a wildcard host read as loopback. */
function localNodeUrl(host: string | undefined, port: number): string {
  const h = host === undefined || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${String(port)}`;
}
