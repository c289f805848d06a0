// A migration that cannot apply surfaces as a MigrationError naming it, and leaves nothing half-applied.
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createStore, MigrationError } from '../../src/store/index.js';

describe('migrate()', () => {
  it('throws a MigrationError naming the failed migration', async () => {
    const store = await createStore('sqlite::memory:');
    try {
      await sql`create table messages (id integer primary key)`.execute(store.db);
      const failure = await store.migrate().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(MigrationError);
      expect(failure).toMatchObject({
        migrationName: '0001_sessions_messages',
        message: expect.stringMatching(/^Database migration 0001_sessions_messages failed \(sqlite\): .*messages/),
      });
      const tables = await sql<{
        name: string;
      }>`select name from sqlite_master where type = 'table' and name = 'sessions'`.execute(store.db);
      expect(tables.rows).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
