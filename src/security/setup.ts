// Builds the security services the server needs (keys, audit trail, token counter, Redis for rate limits) and closes them.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Store } from '../store/index.js';
import { connectRedis } from '../store/redis.js';
import { TokenCounter } from '../usage/token-count.js';
import { auditTrailOf, type AuditTrail } from './audit.js';
import { KeyService } from './keys-service.js';
import { listenPlan, type ListenPlan } from './open-mode.js';
import { RevocationWatch } from './revocations.js';

export interface SecurityServices {
  keys: KeyService;
  /** Where to listen, and whether open mode may ever be served (open mode stays on loopback). */
  listen: ListenPlan;
  auditTrail: AuditTrail;
  tokens: TokenCounter;
  redis?: Redis;
  /** Stored keys that still work, at start-up. */
  storedKeys: number;
  /** Writes pending audit rows, stops watching revocations and closes Redis. */
  close(): Promise<void>;
}

/** `cliEnv` is the environment Claude Code gets: the token counter uses the same credentials. */
export async function startSecurity(
  config: Config,
  store: Store,
  cliEnv: Record<string, string | undefined>,
  log: Logger,
): Promise<SecurityServices> {
  const auditTrail = auditTrailOf(store, (err) => log.error({ err }, 'could not write an audit row'));
  const tokens = new TokenCounter({ env: cliEnv, defaultModel: config.claude.model });
  let lastRedisWarning = 0;
  const redis = config.redis.url
    ? await connectRedis(config.redis.url, {
        onError: (err) => {
          // ioredis reports every failed reconnect: say it at most every 30 s.
          if (Date.now() - lastRedisWarning < 30_000) return;
          lastRedisWarning = Date.now();
          log.warn(
            { err: err.message },
            'Redis connection failed: rate limits count per instance and revokes arrive by the database check until it is back',
          );
        },
      })
    : undefined;
  const storedKeys = await store.apiKeys.countActive();
  const listen = listenPlan(config, storedKeys);
  const revocations = new RevocationWatch(store.apiKeys, {
    intervalMs: config.revocationCheckMs,
    redis,
    keyPrefix: config.redis.keyPrefix,
    onError: (err) => log.warn({ err }, 'could not check for revoked API keys'),
  });
  await revocations.start();
  const keys = new KeyService(config, store.apiKeys, {
    onError: (err) => log.warn({ err }, 'could not record when an API key was last used'),
    openModeAllowed: listen.openModeAllowed,
    revocations,
  });
  return {
    keys,
    listen,
    auditTrail,
    tokens,
    redis,
    storedKeys,
    async close() {
      await revocations.close();
      await auditTrail.flush();
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
