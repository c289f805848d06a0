// Parses DATABASE_URL and builds the Kysely dialect for it: better-sqlite3 (tuned pragmas) or a pg pool.
import { mkdirSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { PostgresDialect, SqliteDialect, type Dialect } from 'kysely';
import pg from 'pg';
import { trackChanges, type ChangeCounter } from './read-cache.js';
import { withStatementCache } from './statement-cache.js';

export type DialectName = 'sqlite' | 'postgres';

export type DatabaseTarget =
  | { dialect: 'sqlite'; /** absolute file path, or ':memory:' */ filename: string }
  | { dialect: 'postgres'; connectionString: string };

const ACCEPTED_FORMS =
  'sqlite:///absolute/path.db, sqlite:/absolute/path.db, sqlite:./relative/path.db, sqlite:relative/path.db (relative to the working directory), sqlite::memory:, postgres://user:pass@host:5432/db or postgresql://…';

function invalid(reason: string): Error {
  return new Error(`Invalid DATABASE_URL: ${reason}. Accepted forms: ${ACCEPTED_FORMS}`);
}

/** Reads a DATABASE_URL; relative SQLite paths are resolved against process.cwd(). Never echoes credentials. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  const value = url.trim();
  if (value.startsWith('sqlite:')) {
    const rest = value.slice('sqlite:'.length);
    if (rest === ':memory:') return { dialect: 'sqlite', filename: ':memory:' };
    if (rest === '' || rest === '//' || rest === '///') throw invalid('the sqlite: URL names no file');
    if (rest.startsWith('//') && !rest.startsWith('///')) {
      throw invalid(
        `"${value}" has two slashes; use three for an absolute path (sqlite:///abs/path.db) or none for a relative one`,
      );
    }
    const path = rest.startsWith('///') ? rest.slice(2) : rest;
    return { dialect: 'sqlite', filename: isAbsolute(path) ? path : resolve(process.cwd(), path) };
  }
  if (/^postgres(ql)?:\/\//i.test(value)) {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw invalid('the postgres:// URL is malformed');
    }
    if (!parsed.hostname && !parsed.searchParams.has('host')) throw invalid('the postgres:// URL names no host');
    return { dialect: 'postgres', connectionString: value };
  }
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(value)?.[0];
  throw invalid(scheme ? `unsupported scheme "${scheme}"` : 'no scheme (expected sqlite: or postgres://)');
}

/** Opens a SQLite file (creating its folder) with WAL, a 5 s busy timeout, foreign keys on and synchronous=NORMAL. */
export function openSqlite(filename: string): BetterSqlite3.Database {
  if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
  const database = new BetterSqlite3(filename);
  database.pragma('journal_mode = WAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  database.pragma('synchronous = NORMAL');
  return database;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

/** pg hands bigint and numeric back as strings; this pool's parsers make them JS numbers (exact up to 2^53). */
const numericTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (text: string) => Number(text);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- the server may send any type OID
    return pg.types.getTypeParser(oid, format) as unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** A pg pool (max 10) whose idle-client errors are absorbed: the next query reports the failure instead. */
export function createPgPool(connectionString: string): pg.Pool {
  const pool = new pg.Pool({ connectionString, max: 10, types: numericTypes });
  pool.on('error', () => {
    // An idle client lost its connection (server restart, network); pg replaces it on the next checkout.
  });
  return pool;
}

/** The Kysely dialect for a parsed DATABASE_URL; for SQLite also the counter of changes its read cache goes by. */
export function createDialect(target: DatabaseTarget): { dialect: Dialect; changes?: ChangeCounter } {
  if (target.dialect === 'sqlite') {
    const { database, changes } = trackChanges(withStatementCache(openSqlite(target.filename)));
    return { dialect: new SqliteDialect({ database }), changes };
  }
  return { dialect: new PostgresDialect({ pool: createPgPool(target.connectionString) }) };
}
