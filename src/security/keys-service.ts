// The API key rules: authenticate a presented key (configured or stored), create, list and revoke stored keys, open mode.
import type { Config } from '../config/index.js';
import type { ApiKeysRepo } from '../store/api-keys-repo.js';
import { DuplicateError } from '../store/errors.js';
import type { ApiKeyRow, Page, PageRequest } from '../store/schema.js';
import { ProblemError } from '../problems.js';
import {
  generateKeyId,
  generateSecret,
  hashSecret,
  sameDigest,
  sha256,
  tenantOfHash,
  type ApiKeyPrincipal,
  type KeyScope,
} from './api-keys.js';
import type { RevocationListener, RevocationWatch } from './revocations.js';

/** A key as listed: never its secret or hash. */
export interface KeyInfo extends ApiKeyPrincipal {
  /** The secret's first characters (stored keys), or null (configured keys). */
  prefix: string | null;
  created_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface CreateKeyInput {
  name: string;
  scope?: KeyScope;
  rateLimit?: number | null;
  budgetUsd?: number | null;
}

/** How the result of authenticate() is told apart. */
export type AuthOutcome = { ok: true; principal: ApiKeyPrincipal } | { ok: false; reason: 'invalid' | 'revoked' };

/** last_used_at of a key is written at most this often. */
const TOUCH_EVERY_MS = 60_000;
/** Most cached lookups (hits and misses); the oldest go first. */
const CACHE_LIMIT = 10_000;

interface EnvKey {
  digest: Buffer;
  principal: ApiKeyPrincipal;
}

export interface KeyServiceOptions {
  /** Reports a failed write of last_used_at. */
  onError?: (err: unknown) => void;
  /**
   * false: never open mode, even with no key configured or stored (every request then needs a key): for a server
   * listening beyond loopback without OPEN_MODE_ALLOW_REMOTE. Default true.
   */
  openModeAllowed?: boolean;
  /** Brings revokes made by other instances (and the CLI); without it only this service's own revokes are seen. */
  revocations?: RevocationWatch;
}

interface Cached {
  outcome: AuthOutcome;
  expires: number;
}

function principalOf(row: ApiKeyRow): ApiKeyPrincipal {
  return {
    id: row.id,
    name: row.name,
    scope: row.scope,
    tenant: row.tenant,
    source: 'db',
    rateLimit: row.rate_limit,
    budgetUsd: row.budget_usd,
  };
}

function infoOf(row: ApiKeyRow): KeyInfo {
  return {
    ...principalOf(row),
    prefix: row.prefix,
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    revoked_at: row.revoked_at,
  };
}

export class KeyService {
  readonly #env: EnvKey[];
  readonly #repo: ApiKeysRepo | undefined;
  readonly #cacheMs: number;
  readonly #cache = new Map<string, Cached>();
  /** When each key's last use was last written (stored keys) or seen (configured keys), ms. */
  readonly #touched = new Map<string, number>();
  /** When each configured key was last used, ms (formatted only when asked). */
  readonly #envLastUsed = new Map<string, number>();
  #openUntil = 0;
  #open = false;
  readonly #openModeAllowed: boolean;
  readonly #onError: (err: unknown) => void;
  readonly #revocations: RevocationWatch | undefined;
  readonly #listeners = new Set<RevocationListener>();
  /** Why a second tenant may not be created (the wall cannot run here), once the server has said so. */
  #newTenantRefusal: string | undefined;

  /**
   * `repo` undefined = only the configured keys (tests of the HTTP shell). Lookups of stored keys are cached for
   * API_KEY_CACHE_SECONDS; a revoke through this service clears them at once, one elsewhere when `revocations`
   * sees it (KEY_REVOCATION_CHECK_SECONDS, or at once through Redis).
   */
  constructor(
    config: Pick<Config, 'apiKeys' | 'adminApiKeys' | 'keyCacheMs'>,
    repo: ApiKeysRepo | undefined,
    options: KeyServiceOptions = {},
  ) {
    this.#repo = repo;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a hand-built config (tests of the HTTP shell) may leave it out
    this.#cacheMs = config.keyCacheMs ?? 5000;
    this.#onError = options.onError ?? (() => {});
    this.#openModeAllowed = options.openModeAllowed ?? true;
    this.#revocations = options.revocations;
    this.#revocations?.onRevoked((key) => {
      this.#cache.delete(key.hash);
      this.#openUntil = 0;
      for (const listener of this.#listeners) listener(key);
    });
    const envKey = (key: string, scope: KeyScope, index: number, list: string): EnvKey => {
      const hash = hashSecret(key);
      return {
        digest: sha256(key),
        principal: {
          id: `env_${hash.slice(0, 16)}`,
          name: `${list}[${index}]`,
          scope,
          tenant: tenantOfHash(hash),
          source: 'env',
          rateLimit: null,
          budgetUsd: null,
        },
      };
    };
    this.#env = [
      ...config.apiKeys.map((k, i) => envKey(k, 'user', i, 'API_KEYS')),
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a hand-built config (tests of the HTTP shell) may leave it out
      ...(config.adminApiKeys ?? []).map((k, i) => envKey(k, 'admin', i, 'ADMIN_API_KEYS')),
    ];
  }

  /** Open mode: no configured keys and no working stored key. Rechecked at most every API_KEY_CACHE_SECONDS. */
  async isOpen(): Promise<boolean> {
    if (this.#env.length > 0 || !this.#openModeAllowed) return false;
    if (!this.#repo) return true;
    const now = Date.now();
    if (now >= this.#openUntil) {
      this.#open = (await this.#repo.countActive()) === 0;
      this.#openUntil = now + this.#cacheMs;
    }
    return this.#open;
  }

  /** Matches a presented key: configured keys by constant-time digest comparison, stored ones by hash lookup. */
  async authenticate(presented: string): Promise<AuthOutcome> {
    const digest = sha256(presented);
    let found: ApiKeyPrincipal | undefined;
    // Every configured key is compared, without stopping at the first match.
    for (const key of this.#env) if (sameDigest(digest, key.digest)) found = key.principal;
    if (found) {
      this.#envLastUsed.set(found.id, Date.now());
      return { ok: true, principal: found };
    }
    if (!this.#repo) return { ok: false, reason: 'invalid' };
    const hash = digest.toString('hex');
    const now = Date.now();
    const cached = this.#cache.get(hash);
    let outcome: AuthOutcome;
    if (cached && cached.expires > now) {
      outcome = cached.outcome;
    } else {
      const row = await this.#repo.findByHash(hash);
      // The index lookup finds the row; the digests are then compared in constant time all the same.
      if (!row || !sameDigest(Buffer.from(row.hash, 'hex'), digest)) outcome = { ok: false, reason: 'invalid' };
      else if (row.revoked_at !== null) outcome = { ok: false, reason: 'revoked' };
      else outcome = { ok: true, principal: principalOf(row) };
      this.#remember(hash, outcome, now);
    }
    if (outcome.ok) this.#touch(outcome.principal.id, now);
    return outcome;
  }

  /**
   * From now on, refuse a key that would add a tenant beside an existing one: the server runs without the wall, so
   * one tenant's session could reach another's (the same rule as at start-up, kept while the server runs).
   */
  refuseNewTenants(reason: string): void {
    this.#newTenantRefusal = reason;
  }

  /** Creates a stored key; the secret is returned once and never stored. */
  async create(input: CreateKeyInput): Promise<{ key: KeyInfo; secret: string }> {
    const repo = this.#requireRepo();
    if (this.#newTenantRefusal !== undefined) {
      // Every key, admin ones included, has its own tenant (and may run sessions); configured admin keys are the
      // operator's own and are not counted, as at start-up.
      const tenants = this.#env.filter((k) => k.principal.scope === 'user').length + (await repo.countActive());
      if (tenants >= 1)
        throw new ProblemError(
          409,
          'wall-unavailable',
          'A second tenant needs the wall',
          `The wall cannot run here (${this.#newTenantRefusal}) and a tenant already exists: without the wall one tenant's session could reach another's. Make the wall work (docs/deployment.md), or restart with WALL_UNCONFINED_TENANTS=true to accept the risk.`,
        );
    }
    for (let attempt = 0; ; attempt++) {
      const secret = generateSecret();
      const hash = hashSecret(secret);
      try {
        const row = await repo.create({
          id: generateKeyId(),
          name: input.name,
          scope: input.scope ?? 'user',
          tenant: tenantOfHash(hash),
          hash,
          prefix: secret.slice(0, 8),
          rate_limit: input.rateLimit ?? null,
          budget_usd: input.budgetUsd ?? null,
        });
        this.#openUntil = 0;
        this.#cache.delete(hash);
        return { key: infoOf(row), secret };
      } catch (err) {
        // 256 random bits do not collide; an id collision (64 bits) gets one more try.
        if (err instanceof DuplicateError && attempt < 2) continue;
        throw err;
      }
    }
  }

  /** Configured keys first (in their order), then stored ones, oldest first; with the total count. */
  async list(page: PageRequest): Promise<Page<KeyInfo>> {
    const env = this.#env.map((k) => this.#envInfo(k.principal));
    const fromEnv = env.slice(page.offset, page.offset + page.limit);
    if (!this.#repo) return { items: fromEnv, total: env.length };
    const dbOffset = Math.max(0, page.offset - env.length);
    const dbLimit = page.limit - fromEnv.length;
    const stored = await this.#repo.list({ offset: dbOffset, limit: Math.max(dbLimit, 0) });
    return { items: [...fromEnv, ...(dbLimit > 0 ? stored.items.map(infoOf) : [])], total: env.length + stored.total };
  }

  async get(id: string): Promise<KeyInfo> {
    const env = this.#env.find((k) => k.principal.id === id);
    if (env) return this.#envInfo(env.principal);
    const row = this.#repo ? await this.#repo.findById(id) : undefined;
    if (!row) throw new ProblemError(404, 'not-found', 'Not found', `No API key with id ${JSON.stringify(id)}.`);
    return infoOf(row);
  }

  /**
   * Revokes a stored key; it fails on its next request here (cached lookups are dropped) and, through the revocation
   * watch, on every other instance within a second. Configured keys cannot be.
   */
  async revoke(id: string): Promise<KeyInfo> {
    if (this.#env.some((k) => k.principal.id === id)) {
      throw new ProblemError(
        409,
        'key-in-environment',
        'Key is configured in the environment',
        'This key comes from API_KEYS or ADMIN_API_KEYS; remove it there and restart the server to revoke it.',
      );
    }
    const row = this.#repo ? await this.#repo.revoke(id) : undefined;
    if (!row) throw new ProblemError(404, 'not-found', 'Not found', `No API key with id ${JSON.stringify(id)}.`);
    this.#cache.delete(row.hash);
    this.#openUntil = 0;
    if (this.#revocations) await this.#revocations.announce();
    else for (const listener of this.#listeners) listener({ id: row.id, tenant: row.tenant, hash: row.hash });
    return infoOf(row);
  }

  /** Calls `listener` once for each stored key revoked from now on (here, on another instance or by the CLI). */
  onRevoked(listener: RevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The key whose tenant this is, if any (for naming usage groups). */
  async keyOfTenant(tenant: string): Promise<ApiKeyPrincipal | undefined> {
    const env = this.#env.find((k) => k.principal.tenant === tenant);
    if (env) return env.principal;
    const row = this.#repo ? await this.#repo.findByTenant(tenant) : undefined;
    return row ? principalOf(row) : undefined;
  }

  #envInfo(p: ApiKeyPrincipal): KeyInfo {
    return { ...p, prefix: null, created_at: null, last_used_at: this.#lastUsedOf(p.id), revoked_at: null };
  }

  #remember(hash: string, outcome: AuthOutcome, now: number): void {
    if (this.#cacheMs <= 0) return;
    if (this.#cache.size >= CACHE_LIMIT) {
      const oldest = this.#cache.keys().next();
      if (!oldest.done) this.#cache.delete(oldest.value);
    }
    this.#cache.set(hash, { outcome, expires: now + this.#cacheMs });
  }

  /** Writes last_used_at at most once a minute per key, without holding up the request. */
  #lastUsedOf(id: string): string | null {
    const at = this.#envLastUsed.get(id);
    return at === undefined ? null : new Date(at).toISOString();
  }

  #touch(id: string, now: number): void {
    const last = this.#touched.get(id) ?? 0;
    if (now - last < TOUCH_EVERY_MS) return;
    this.#touched.set(id, now);
    this.#repo?.touch(id, new Date(now).toISOString()).catch(this.#onError);
  }

  #requireRepo(): ApiKeysRepo {
    if (!this.#repo)
      throw new ProblemError(503, 'keys-unavailable', 'Key storage unavailable', 'This server has no key storage.');
    return this.#repo;
  }
}
