// API keys: hashing, secrets, tenant ids, scopes, constant-time matching and how a request presents its key.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** `admin` keys manage keys and see every tenant; `user` keys see only their own tenant. */
export type KeyScope = 'admin' | 'user';
export const KEY_SCOPES: readonly KeyScope[] = ['admin', 'user'];

/** Who a request is: the key that authenticated it (its secret is never kept). */
export interface ApiKeyPrincipal {
  /** `env_<16 hex>` for keys from API_KEYS / ADMIN_API_KEYS, `key_<16 hex>` for keys created through the API or CLI. */
  id: string;
  name: string;
  scope: KeyScope;
  /** The key's own tenant (`k_` + 16 hex of the SHA-256 of its secret). */
  tenant: string;
  source: 'env' | 'db';
  /** Requests per RATE_LIMIT_WINDOW of its own; null = RATE_LIMIT_REQUESTS. */
  rateLimit: number | null;
  /** Total spend allowed to this key in USD (enforced by the budgets); null = none of its own. */
  budgetUsd: number | null;
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The hex SHA-256 of a secret: the only form in which created keys are stored. */
export function hashSecret(secret: string): string {
  return sha256(secret).toString('hex');
}

/** The tenant of an API key: `k_` + the first 16 hex characters of its SHA-256. Stable, and reveals nothing of the key. */
export function tenantOf(key: string): string {
  return tenantOfHash(hashSecret(key));
}

/** The tenant for a stored key hash (same value as tenantOf(secret)). */
export function tenantOfHash(hashHex: string): string {
  return `k_${hashHex.slice(0, 16)}`;
}

/** Prefix of generated secrets, so leaked ones are easy to spot (secret scanners, logs). */
export const SECRET_PREFIX = 'cca_';

/** A new secret: `cca_` + 43 base64url characters (256 random bits). */
export function generateSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** A new key id: `key_` + 16 random hex characters. */
export function generateKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

/** True when a request (or anything carrying a scope) acts with an admin key. */
export function isAdmin(request: { scope?: KeyScope | '' }): boolean {
  return request.scope === 'admin';
}

/** Constant-time equality of two digests of the same length (false when the lengths differ). */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Holds the digests of the configured keys (never the keys themselves) and matches presented keys in constant time. */
export class ApiKeyRing {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(sha256);
  }

  /** No keys configured: open mode, every caller is the `local` tenant. */
  get open(): boolean {
    return this.digests.length === 0;
  }

  /**
   * True when `presented` is one of the keys. Compares SHA-256 digests (equal length whatever the key's length)
   * with timingSafeEqual against every configured key, without stopping at the first match.
   */
  matches(presented: string): boolean {
    const candidate = sha256(presented);
    let found = false;
    for (const digest of this.digests) {
      if (timingSafeEqual(candidate, digest)) found = true;
    }
    return found;
  }
}

/** The key a request presents: `X-API-Key: <key>` first, else `Authorization: Bearer <key>`; undefined when neither. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const apiKey = first(headers['x-api-key'])?.trim();
  if (apiKey) return apiKey;
  const authorization = first(headers.authorization)?.trim();
  const bearer = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  return bearer?.[1];
}
