// The Python seed's `.env`: its forms read as ours (DATABASE_URL with a driver, LOG_LEVEL in capitals), and a warning for each of its settings this service does not use.
type Raw = Record<string, string | undefined>;

/** Seed settings with no counterpart here, and what happens instead. */
const UNSUPPORTED: Record<string, string> = {
  CLAUDE_RETRY_MAX_ATTEMPTS:
    'Claude Code retries failed Messages API calls itself (CLAUDE_CODE_MAX_RETRIES in its environment); a failed turn is answered 502 and not run again.',
  CLAUDE_RETRY_BASE_DELAY: 'Claude Code retries failed Messages API calls itself, with its own back-off.',
  CLAUDE_RETRY_BACKOFF_FACTOR: 'Claude Code retries failed Messages API calls itself, with its own back-off.',
  CLAUDE_RETRY_MAX_DELAY: 'Claude Code retries failed Messages API calls itself, with its own back-off.',
  SESSION_TIMEOUT_HOURS:
    'a session keeps its conversation until it is deleted; an idle Claude Code process is closed after SESSION_IDLE_SECONDS and resumed on the next turn.',
};

/**
 * `DATABASE_URL` in the seed's SQLAlchemy forms, as ours: `sqlite+aiosqlite:///relative.db` (relative to the working
 * directory) → `sqlite:relative.db`, `sqlite+aiosqlite:////abs.db` → `sqlite:///abs.db`, `postgresql+asyncpg://…` →
 * `postgresql://…`. Any other value is returned unchanged.
 */
export function seedDatabaseUrl(url: string): string {
  const sqlite = /^sqlite\+[a-z0-9_]+:\/\/\/(.*)$/i.exec(url);
  if (sqlite) {
    const path = sqlite[1]!;
    return path.startsWith('/') ? `sqlite://${path}` : `sqlite:${path}`;
  }
  const postgres = /^postgres(?:ql)?\+[a-z0-9_]+:\/\/(.*)$/i.exec(url);
  if (postgres) return `postgresql://${postgres[1]!}`;
  return url;
}

const isSet = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * The environment with the seed's forms read as ours (API_HOST and API_PORT are settings of their own), and the
 * start-up warnings about seed settings that are not used here.
 */
export function readSeedEnvironment(env: Raw): { env: Raw; warnings: string[] } {
  const out: Raw = { ...env };
  if (isSet(env.LOG_LEVEL)) out.LOG_LEVEL = env.LOG_LEVEL.trim().toLowerCase();
  if (isSet(env.DATABASE_URL)) out.DATABASE_URL = seedDatabaseUrl(env.DATABASE_URL.trim());
  const warnings = Object.entries(UNSUPPORTED)
    .filter(([name]) => isSet(env[name]))
    .map(([name, instead]) => `${name} is a setting of the Python service that this server does not use: ${instead}`);
  return { env: out, warnings };
}
