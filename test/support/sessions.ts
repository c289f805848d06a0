// Creating a session through the typed API client: the one helper every integration test uses to set up a session.
import { expect } from 'vitest';
import { apiClient } from './api/client.js';
import type { paths } from './api/types.js';
import { KEYS, type TestServer } from './server.js';

export type CreateSessionBody = paths['/api/v1/sessions']['post']['requestBody']['content']['application/json'];

/** Creates session `name` on `t` with `body`'s options, acting as `key`; fails the test unless it answers 201. */
export async function createSession(
  t: Pick<TestServer, 'url'>,
  name: string,
  body: Omit<CreateSessionBody, 'name'> = {},
  key: string = KEYS[0],
) {
  const { response, data, error } = await apiClient(t, key).POST('/api/v1/sessions', { body: { name, ...body } });
  expect(response.status, JSON.stringify(error)).toBe(201);
  return data!.data;
}
