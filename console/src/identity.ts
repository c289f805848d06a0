// Who the typed key is: checked against the API (a wrong key is refused), and whether it may see the admin pages.
import { api, ProblemError } from './api';

export interface Identity {
  admin: boolean;
}

/** Any listing proves the key works; the admin-only key listing tells an admin from a user. */
export async function identify(key: string): Promise<Identity> {
  await api('/sessions?limit=1', { key, tenant: null });
  try {
    await api('/keys?limit=1', { key, tenant: null });
    return { admin: true };
  } catch (err) {
    if (err instanceof ProblemError && err.problem.status === 403) return { admin: false };
    throw err;
  }
}
