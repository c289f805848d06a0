// The API key the person typed: kept in sessionStorage only (gone with the tab), never in a URL.
const SLOT = 'cca.apiKey';

export function currentKey(): string | null {
  return sessionStorage.getItem(SLOT);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(SLOT, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(SLOT);
}
