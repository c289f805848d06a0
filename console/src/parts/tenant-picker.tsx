// Admins: the tenant to act for (sent as X-Tenant on every call), chosen from the keys' tenants; empty is every tenant.
import { api } from '../api';
import { useLoad } from './status';

interface KeyRow {
  name: string;
  tenant: string;
  revoked_at: string | null;
}

/** Each tenant once, named by its keys (revoked keys too: their sessions remain). */
function tenantsOf(keys: KeyRow[]): [string, string][] {
  const names = new Map<string, string[]>();
  for (const k of keys) names.set(k.tenant, [...(names.get(k.tenant) ?? []), k.name]);
  return [...names].map(([tenant, n]) => [tenant, `${n.join(', ')} (${tenant})`]);
}

export function TenantPicker({ tenant, onChange }: { tenant: string | null; onChange: (t: string | null) => void }) {
  // The admin's own view lists the keys; acting for a tenant does not narrow the key list.
  const keys = useLoad(() => api<KeyRow[]>('/keys?limit=100', { tenant: null }), []);
  const options = tenantsOf(keys.value?.data ?? []);
  if (tenant && !options.some(([t]) => t === tenant)) options.push([tenant, tenant]);
  return (
    <label class={`inline tenant ${tenant ? 'acting' : ''}`}>
      {tenant ? 'Acting for tenant' : 'Tenant'}
      <select value={tenant ?? ''} onChange={(e) => onChange(e.currentTarget.value || null)}>
        <option value="">every tenant (admin view)</option>
        {options.map(([t, label]) => (
          <option key={t} value={t}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}
