// Security events fail closed: their audit row is written before the answer, and without it there is no answer (503); other requests go on.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, appWithStore, type AppWithStore } from '../../support/app-with-store.js';

const admin = { 'x-api-key': ADMIN_KEY };

describe('with the audit table unwritable', () => {
  let t: AppWithStore;
  beforeAll(async () => {
    t = await appWithStore();
    // A real failure of the database, not a stub: the table the rows go to is gone.
    await sql`drop table audit_log`.execute(t.store.db);
  });
  afterAll(() => t.close());

  it('answers 503 audit-unavailable instead of a refusal it could not record', async () => {
    const res = await t.app.inject({ url: '/api/v1/sessions', headers: { 'x-api-key': 'not-a-valid-key-000' } });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({
      type: '/problems/audit-unavailable',
      status: 503,
      request_id: res.headers['x-request-id'],
    });
    expect(res.headers['retry-after']).toBe('5');
  });

  it('withholds the answer of an admin act (a key create shows no secret)', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/keys', headers: admin, payload: { name: 'x' } });
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toMatch(/cca_/);
    expect(res.json().type).toBe('/problems/audit-unavailable');
  });

  it('still answers requests that are not security events', async () => {
    const res = await t.app.inject({ url: '/api/v1/keys', headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.json().data.map((k: { name: string }) => k.name)).toContain('API_KEYS[0]');
  });
});
