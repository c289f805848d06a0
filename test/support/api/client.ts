// The typed API client of the tests: openapi-fetch over the types generated from the served OpenAPI document.
import createClient from 'openapi-fetch';
import { KEYS, type TestServer } from '../server.js';
import type { paths } from './types.js';

export type ApiClient = ReturnType<typeof createClient<paths>>;

/** A client of the test server acting with `key` (the first configured key by default; null sends none). */
export function apiClient(t: Pick<TestServer, 'url'>, key: string | null = KEYS[0]): ApiClient {
  return createClient<paths>({ baseUrl: t.url, headers: key === null ? {} : { 'x-api-key': key } });
}
