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

describe("the Python seed's database", () => {
  it('is refused with a message saying what it is, and left as it was', async () => {
    const store = await createStore('sqlite::memory:');
    try {
      // The seed's sessions table, as its SQLite schema creates it.
      await sql`create table sessions (rowid integer primary key autoincrement, name text not null, id text not null default '',
        user_id text not null, working_dir text not null, total_cost real default 0.0, total_turns integer default 0,
        created_at text not null, updated_at text not null)`.execute(store.db);
      const failure = await store.migrate().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(MigrationError);
      expect((failure as Error).message).toContain('a database of the Python claude-code-api');
      expect((failure as Error).message).toContain('point DATABASE_URL at a new database');
      const tables = await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(store.db);
      expect(tables.rows.map((r) => r.name).filter((n) => !n.startsWith('sqlite_'))).toEqual(['sessions']);
    } finally {
      await store.close();
    }
  });

  it('a database of ours migrates as usual', async () => {
    const store = await createStore('sqlite::memory:');
    try {
      expect(await store.migrate()).toContain('0001_sessions_messages');
      expect(await store.migrate()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
