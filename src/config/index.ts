// Loads `.env` and the environment, validates every setting against the table, and returns one typed Config.
import { resolve } from 'node:path';
import { config as loadDotenv } from 'dotenv';
import { SETTINGS, type SettingSpec, PERMISSION_MODES, EFFORT_LEVELS } from './settings.js';

export type PermissionMode = (typeof PERMISSION_MODES)[number];
export type EffortLevel = (typeof EFFORT_LEVELS)[number];

export interface Config {
  port: number;
  host: string;
  logLevel: string;
  bodyLimitBytes: number;
  maxMessageChars: number;
  apiKeys: string[];
  dataDir: string;
  databaseUrl: string;
  approvedDirectory: string;
  claude: {
    cliPath?: string;
    configDir?: string;
    model?: string;
    effort?: EffortLevel;
    systemPrompt?: string;
    maxTurns: number;
    timeoutMs: number;
    permissionMode: PermissionMode;
    allowedPermissionModes: PermissionMode[];
    allowedTools: string[];
    disallowedTools: string[];
  };
  engine: {
    maxLiveSessions: number;
    sessionIdleMs: number;
    maxConcurrentTurns: number;
    turnQueueTimeoutMs: number;
    sessionQueueLimit: number;
    chatDisconnect: 'interrupt' | 'continue';
    heartbeatMs: number;
    replayMs: number;
    shutdownGraceMs: number;
  };
  maxSessionsPerUser: number;
  /** The names of environment variables whose values must never reach a CLI process. */
  secretNames: string[];
}

/** A bad setting: the message is one line naming the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Raw = Record<string, string | undefined>;
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
      if (!Number.isFinite(n) || (k.type === 'int' && !Number.isInteger(n))) fail(`must be ${k.type === 'int' ? 'an integer' : 'a number'}`);
      if ((k.min !== undefined && n < k.min) || (k.max !== undefined && n > k.max)) fail(`must be between ${k.min} and ${k.max}`);
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
      return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'string':
      return text;
  }
}

/** Reads `.env` (if present, without overriding real variables) into process.env. */
export function loadDotenvFile(path = '.env'): void {
  loadDotenv({ path, quiet: true });
}

export function loadConfig(env: Raw = process.env): Config {
  const v = new Map<string, Parsed>();
  for (const spec of SETTINGS) v.set(spec.name, parseOne(spec, env[spec.name]));
  const num = (n: string) => v.get(n) as number;
  const str = (n: string) => v.get(n) as string | undefined;
  const list = (n: string) => (v.get(n) as string[] | undefined) ?? [];

  const apiKeys = list('API_KEYS');
  for (const key of apiKeys) {
    if (key.length < 8) throw new ConfigError('Invalid environment variable API_KEYS: every key must be at least 8 characters long');
  }
  const modes = list('CLAUDE_ALLOWED_PERMISSION_MODES');
  for (const m of modes) {
    if (!(PERMISSION_MODES as readonly string[]).includes(m)) {
      throw new ConfigError(`Invalid environment variable CLAUDE_ALLOWED_PERMISSION_MODES: unknown mode ${JSON.stringify(m)} (one of ${PERMISSION_MODES.join(', ')})`);
    }
  }
  const permissionMode = str('CLAUDE_PERMISSION_MODE') as PermissionMode;
  const maxLive = num('MAX_LIVE_SESSIONS');
  const maxTurns = num('MAX_CONCURRENT_TURNS');
  if (maxTurns > maxLive) {
    throw new ConfigError(`Invalid environment variable MAX_CONCURRENT_TURNS: must not exceed MAX_LIVE_SESSIONS (${maxLive}) (got ${maxTurns})`);
  }
  const dataDir = resolve(str('DATA_DIR')!);
  const databaseUrl = str('DATABASE_URL') ?? `sqlite:${resolve(dataDir, 'claude-code-api.db')}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError('Invalid environment variable DATABASE_URL: must start with sqlite: or postgres:// (got a value of another form)');
  }
  const cliPath = str('CLAUDE_CLI_PATH');
  return {
    port: num('PORT'),
    host: str('HOST') ?? (apiKeys.length > 0 ? '0.0.0.0' : '127.0.0.1'),
    logLevel: str('LOG_LEVEL')!,
    bodyLimitBytes: Math.round(num('BODY_LIMIT_MB') * 1024 * 1024),
    maxMessageChars: num('MAX_MESSAGE_CHARS'),
    apiKeys,
    dataDir,
    databaseUrl,
    approvedDirectory: resolve(str('APPROVED_DIRECTORY')!),
    claude: {
      cliPath: cliPath ? resolve(cliPath) : undefined,
      configDir: str('CLAUDE_CONFIG_DIR') ? resolve(str('CLAUDE_CONFIG_DIR')!) : undefined,
      model: str('CLAUDE_MODEL'),
      effort: str('CLAUDE_EFFORT') as EffortLevel | undefined,
      systemPrompt: str('CLAUDE_SYSTEM_PROMPT'),
      maxTurns: num('CLAUDE_MAX_TURNS'),
      timeoutMs: num('CLAUDE_TIMEOUT_SECONDS') * 1000,
      permissionMode,
      allowedPermissionModes: [...new Set([...(modes as PermissionMode[]), permissionMode])],
      allowedTools: list('CLAUDE_ALLOWED_TOOLS'),
      disallowedTools: list('CLAUDE_DISALLOWED_TOOLS'),
    },
    engine: {
      maxLiveSessions: maxLive,
      sessionIdleMs: num('SESSION_IDLE_SECONDS') * 1000,
      maxConcurrentTurns: maxTurns,
      turnQueueTimeoutMs: num('TURN_QUEUE_TIMEOUT_SECONDS') * 1000,
      sessionQueueLimit: num('SESSION_QUEUE_LIMIT'),
      chatDisconnect: str('CHAT_DISCONNECT') as 'interrupt' | 'continue',
      heartbeatMs: num('SSE_HEARTBEAT_SECONDS') * 1000,
      replayMs: num('TURN_REPLAY_SECONDS') * 1000,
      shutdownGraceMs: num('SHUTDOWN_GRACE_SECONDS') * 1000,
    },
    maxSessionsPerUser: num('MAX_SESSIONS_PER_USER'),
    secretNames: SETTINGS.filter((s) => s.secret).map((s) => s.name),
  };
}
