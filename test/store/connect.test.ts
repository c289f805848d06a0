// parseDatabaseUrl's accepted and rejected forms, and the SQLite connection settings openSqlite applies.
import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite, parseDatabaseUrl } from '../../src/store/connect.js';
import { createStore } from '../../src/store/index.js';

describe('parseDatabaseUrl', () => {
  it.each([
    ['sqlite:///var/lib/cca/app.db', '/var/lib/cca/app.db'],
    ['sqlite:/var/lib/cca/app.db', '/var/lib/cca/app.db'],
    ['sqlite:./data/app.db', resolve(process.cwd(), 'data/app.db')],
    ['sqlite:data/app.db', resolve(process.cwd(), 'data/app.db')],
    ['sqlite:../up/app.db', resolve(process.cwd(), '../up/app.db')],
    ['sqlite::memory:', ':memory:'],
  ])('reads %s as a SQLite file', (url, filename) => {
    expect(parseDatabaseUrl(url)).toEqual({ dialect: 'sqlite', filename });
  });

  it.each([
    'postgres://user:pw@db.example:5432/app',
    'postgresql://localhost/app?sslmode=require',
    'postgres://%2Fvar%2Frun%2Fpostgresql/app',
  ])('reads %s as PostgreSQL', (url) => {
    expect(parseDatabaseUrl(url)).toEqual({ dialect: 'postgres', connectionString: url });
  });

  it.each([
    ['', /no scheme/],
    ['/tmp/app.db', /no scheme/],
    ['mysql://root@localhost/app', /unsupported scheme "mysql:"/],
    ['sqlite:', /names no file/],
    ['sqlite://app.db', /two slashes/],
    ['postgres://', /malformed|no host/],
  ])('rejects %j with a message naming DATABASE_URL and the accepted forms', (url, reason) => {
    expect(() => parseDatabaseUrl(url)).toThrow(reason);
    expect(() => parseDatabaseUrl(url)).toThrow(
      /^Invalid DATABASE_URL: .*Accepted forms: sqlite:\/\/\/absolute\/path\.db, .*sqlite::memory:, postgres:\/\//,
    );
  });

  it('never echoes a rejected URL (it may hold a password)', () => {
    expect(() => parseDatabaseUrl('mysql://root:s3cret@host/db')).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
    );
  });
});

describe('SQLite connection', () => {
  const startCwd = process.cwd();
  const folders: string[] = [];
  const tempFolder = async () => {
    const folder = await realpath(await mkdtemp(join(tmpdir(), 'cca-connect-')));
    folders.push(folder);
    return folder;
  };
  afterEach(async () => {
    process.chdir(startCwd);
    await Promise.all(folders.splice(0).map((f) => rm(f, { recursive: true, force: true })));
  });

  it('creates the parent folder and applies WAL, busy_timeout, foreign_keys and synchronous=NORMAL', async () => {
    const file = join(await tempFolder(), 'a', 'b', 'app.db');
    const database = openSqlite(file);
    try {
      expect(existsSync(file)).toBe(true);
      expect(database.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(database.pragma('busy_timeout', { simple: true })).toBe(5000);
      expect(database.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(database.pragma('synchronous', { simple: true })).toBe(1);
    } finally {
      database.close();
    }
  });

  it('resolves sqlite:relative/path.db against the working directory', async () => {
    const folder = await tempFolder();
    process.chdir(folder);
    const store = await createStore('sqlite:nested/app.db');
    try {
      expect(store.dialect).toBe('sqlite');
      expect((await store.migrate())[0]).toBe('0001_sessions_messages');
      expect(existsSync(join(folder, 'nested', 'app.db'))).toBe(true);
    } finally {
      await store.close();
    }
  });
});
