// Builds the security services the server needs (keys, audit trail, token counter, Redis for rate limits) and closes them.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Store } from '../store/index.js';
import { connectRedis } from '../store/redis.js';
import { TokenCounter } from '../usage/token-count.js';
import { auditTrailOf, type AuditTrail } from './audit.js';
import { KeyService } from './keys-service.js';

export interface SecurityServices {
  keys: KeyService;
  auditTrail: AuditTrail;
  tokens: TokenCounter;
  redis?: Redis;
  /** Stored keys that still work, at start-up. */
  storedKeys: number;
  /** Writes pending audit rows and closes Redis. */
  close(): Promise<void>;
}

/** `cliEnv` is the environment Claude Code gets: the token counter uses the same credentials. */
export async function startSecurity(
  config: Config,
  store: Store,
  cliEnv: Record<string, string | undefined>,
  log: Logger,
): Promise<SecurityServices> {
  const keys = new KeyService(config, store.apiKeys, (err) =>
    log.warn({ err }, 'could not record when an API key was last used'),
  );
  const auditTrail = auditTrailOf(store, (err) => log.error({ err }, 'could not write an audit row'));
  const tokens = new TokenCounter({ env: cliEnv, defaultModel: config.claude.model });
  let lastRedisWarning = 0;
  const redis = config.redis.url
    ? await connectRedis(config.redis.url, {
        onError: (err) => {
          // ioredis reports every failed reconnect: say it at most every 30 s.
          if (Date.now() - lastRedisWarning < 30_000) return;
          lastRedisWarning = Date.now();
          log.warn({ err: err.message }, 'Redis connection failed: rate limits are not enforced until it is back');
        },
      })
    : undefined;
  const storedKeys = await store.apiKeys.countActive();
  return {
    keys,
    auditTrail,
    tokens,
    redis,
    storedKeys,
    async close() {
      await auditTrail.flush();
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
