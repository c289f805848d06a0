// The API key the person typed and the tenant an admin acts for: kept in sessionStorage only (gone with the tab), never in a URL.
const SLOT = 'cca.apiKey';
const TENANT_SLOT = 'cca.tenant';

export function currentKey(): string | null {
  return sessionStorage.getItem(SLOT);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(SLOT, key);
}

/** Forgets the key and the tenant chosen with it. */
export function forgetKey(): void {
  sessionStorage.removeItem(SLOT);
  sessionStorage.removeItem(TENANT_SLOT);
}

/** The tenant an admin chose to act for (sent as X-Tenant), or null for the admin's own view. */
export function currentTenant(): string | null {
  return sessionStorage.getItem(TENANT_SLOT);
}

export function storeTenant(tenant: string | null): void {
  if (tenant) sessionStorage.setItem(TENANT_SLOT, tenant);
  else sessionStorage.removeItem(TENANT_SLOT);
}
