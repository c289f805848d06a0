// The key ring and header parsing on their own.
import { describe, expect, it } from 'vitest';
import { ApiKeyRing, presentedKey, tenantOf } from '../../src/security/api-keys.js';

describe('api keys', () => {
  it('matches only configured keys, whatever their length', () => {
    const ring = new ApiKeyRing(['short-key', 'a-much-longer-key-than-the-other-one']);
    expect(ring.open).toBe(false);
    expect(ring.matches('short-key')).toBe(true);
    expect(ring.matches('a-much-longer-key-than-the-other-one')).toBe(true);
    expect(ring.matches('short-ke')).toBe(false);
    expect(ring.matches('')).toBe(false);
    expect(new ApiKeyRing([]).open).toBe(true);
  });

  it('tenantOf is k_ + 16 hex of SHA-256', () => {
    // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    expect(tenantOf('abc')).toBe('k_ba7816bf8f01cfea');
  });

  it('reads X-API-Key first, then Authorization: Bearer', () => {
    expect(presentedKey({ 'x-api-key': ' k1 ', authorization: 'Bearer k2' })).toBe('k1');
    expect(presentedKey({ authorization: 'Bearer   k2' })).toBe('k2');
    expect(presentedKey({ authorization: 'Basic k2' })).toBeUndefined();
    expect(presentedKey({ authorization: 'Bearer a b' })).toBeUndefined();
    expect(presentedKey({})).toBeUndefined();
  });
});
