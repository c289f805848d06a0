// API key checks for the HTTP layer: constant-time matching against the configured keys and the tenant id of a key.
import { createHash, timingSafeEqual } from 'node:crypto';

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The tenant of an API key: `k_` + the first 16 hex characters of its SHA-256. Stable, and reveals nothing of the key. */
export function tenantOf(key: string): string {
  return `k_${sha256(key).toString('hex').slice(0, 16)}`;
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
