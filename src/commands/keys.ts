// `keys create|list|revoke`: manage stored API keys straight in the database (running servers see a revoke within KEY_REVOCATION_CHECK_SECONDS, at once with Redis).
import { parseArgs } from 'node:util';
import { loadConfig, loadDotenvFile } from '../config/index.js';
import { KEY_SCOPES, type KeyScope } from '../security/api-keys.js';
import { KeyService, type KeyInfo } from '../security/keys-service.js';
import { revocationChannel } from '../security/revocations.js';
import { ProblemError } from '../problems.js';
import { createStore } from '../store/index.js';
import { connectRedis } from '../store/redis.js';
import type { Command } from './types.js';

const HELP = `Usage:
  claude-code-api keys create --name NAME [--scope user|admin] [--rate-limit N] [--budget-usd X] [--json]
  claude-code-api keys list [--json]
  claude-code-api keys revoke ID [--json]

The secret of a new key is printed once; only its SHA-256 is stored.`;

class UsageError extends Error {}

function row(k: KeyInfo): string {
  const state = k.revoked_at ? `revoked ${k.revoked_at}` : 'active';
  const limits = [
    k.rateLimit !== null ? `rate ${k.rateLimit}/window` : '',
    k.budgetUsd !== null ? `budget $${k.budgetUsd}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return [k.id, k.scope.padEnd(5), k.tenant, state, k.name, limits].filter(Boolean).join('  ');
}

function positiveNumber(text: string | undefined, flag: string, integer: boolean): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (integer && (!Number.isInteger(n) || n < 1)))
    throw new UsageError(`${flag} must be ${integer ? 'a whole number ≥ 1' : 'a number ≥ 0'}`);
  return n;
}

async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scope: { type: 'string' },
      'rate-limit': { type: 'string' },
      'budget-usd': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || sub === undefined || sub === 'help') {
    console.log(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (!['create', 'list', 'revoke'].includes(sub)) throw new UsageError(`unknown keys command ${JSON.stringify(sub)}`);
  let create: { name: string; scope: KeyScope; rateLimit: number | null; budgetUsd: number | null } | undefined;
  if (sub === 'create') {
    const name = values.name?.trim();
    if (!name || name.length > 100) throw new UsageError('--name is required (1–100 characters)');
    const scope = (values.scope ?? 'user') as KeyScope;
    if (!KEY_SCOPES.includes(scope)) throw new UsageError('--scope must be user or admin');
    create = {
      name,
      scope,
      rateLimit: positiveNumber(values['rate-limit'], '--rate-limit', true),
      budgetUsd: positiveNumber(values['budget-usd'], '--budget-usd', false),
    };
  }
  if (sub === 'revoke' && positionals.length !== 1) throw new UsageError('revoke needs exactly one key id');

  loadDotenvFile();
  const config = loadConfig();
  const store = await createStore(config.databaseUrl);
  try {
    await store.migrate();
    const keys = new KeyService(config, store.apiKeys);
    const print = (value: unknown, text: string) => console.log(values.json ? JSON.stringify(value) : text);
    if (create) {
      const { key, secret } = await keys.create(create);
      print(
        { ...key, secret },
        `created ${key.scope} key ${key.id} (${key.name}), tenant ${key.tenant}\n\n  ${secret}\n\nThis secret is shown once: store it now.`,
      );
    } else if (sub === 'list') {
      const all: KeyInfo[] = [];
      for (let offset = 0; ; offset += 100) {
        const page = await keys.list({ offset, limit: 100 });
        all.push(...page.items);
        if (all.length >= page.total || page.items.length === 0) break;
      }
      print(all, all.length === 0 ? 'no keys' : all.map(row).join('\n'));
    } else {
      const key = await keys.revoke(positionals[0]!);
      const announced = config.redis.url ? await announceOverRedis(config.redis.url, config.redis.keyPrefix) : false;
      const within = announced ? 'at once' : `within ${config.revocationCheckMs / 1000} s`;
      print(key, `revoked ${key.id} (${key.name}); running servers refuse it ${within}`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

/** Tells the servers sharing REDIS_URL at once; false when Redis cannot be reached (they see it by their database check). */
async function announceOverRedis(url: string, keyPrefix: string): Promise<boolean> {
  try {
    const redis = await connectRedis(url, { timeoutMs: 3000 });
    try {
      await redis.publish(revocationChannel(keyPrefix), '1');
      return true;
    } finally {
      redis.disconnect();
    }
  } catch {
    return false;
  }
}

export const keys: Command = {
  summary: 'manage stored API keys (create prints the secret once)',
  args: 'create|list|revoke',
  async run(argv) {
    try {
      return await run(argv);
    } catch (err) {
      if (
        err instanceof UsageError ||
        (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
      ) {
        console.error(`${err.message}\n\n${HELP}`);
        return 2;
      }
      if (err instanceof ProblemError) {
        console.error(err.message);
        return 1;
      }
      throw err;
    }
  },
};
