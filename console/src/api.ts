// The console's only way to the server: the public /api/v1 routes with the typed key, envelopes unwrapped, problems thrown.
import { currentKey, currentTenant } from './key';

export const API = '/api/v1';

/** An RFC 9457 problem document as the API answers it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { pointer?: string; message?: string }[];
}

/** A failed call: carries the server's problem document so pages can show its title and detail. */
export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title ?? 'Request failed');
  }
}

export interface Page<T> {
  data: T;
  pagination?: { page: number; limit: number; total: number; pages: number };
}

/** Headers every call sends: the key the person typed, and the tenant an admin chose (X-Tenant). */
export function authHeaders(key = currentKey(), tenant = currentTenant()): Record<string, string> {
  return { ...(key ? { 'X-API-Key': key } : {}), ...(tenant ? { 'X-Tenant': tenant } : {}) };
}

/** Per call: `key` (sign-in checks a key not stored yet), `tenant` (an admin acting on one tenant's item). */
type CallInit = RequestInit & { json?: unknown; key?: string; tenant?: string | null };

/** Turns a non-2xx answer into a ProblemError (a body that is no problem document still gets its status). */
export async function problemOf(res: Response): Promise<ProblemError> {
  let body: Problem = {};
  try {
    body = (await res.json()) as Problem;
  } catch {
    // not JSON: only the status is known
  }
  return new ProblemError({ status: res.status, title: body.title ?? res.statusText, ...body });
}

export async function call(path: string, init: CallInit = {}): Promise<Response> {
  const { json, key, tenant, ...rest } = init;
  const headers = new Headers(rest.headers);
  for (const [k, v] of Object.entries(authHeaders(key, tenant === undefined ? currentTenant() : tenant))) {
    headers.set(k, v);
  }
  let body = rest.body;
  if (json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(json);
  }
  let res: Response;
  try {
    res = await fetch(`${API}${path}`, { ...rest, headers, body });
  } catch (err) {
    throw new ProblemError({ title: 'Network error', detail: err instanceof Error ? err.message : String(err) });
  }
  if (!res.ok) throw await problemOf(res);
  return res;
}

/** A JSON call: the envelope's `data` (and pagination when listed); `null` for 204. */
export async function api<T>(path: string, init: CallInit = {}): Promise<Page<T>> {
  const res = await call(path, init);
  if (res.status === 204) return { data: null as T };
  const body = (await res.json()) as { data: T; meta?: { pagination?: Page<T>['pagination'] } };
  return { data: body.data, pagination: body.meta?.pagination };
}

export const enc = encodeURIComponent;
/** A workspace path in a URL: each segment escaped, slashes kept. */
export const encPath = (p: string) => p.split('/').map(enc).join('/');
