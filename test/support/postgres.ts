// Throwaway PostgreSQL databases for tests, through PG_TEST_URL; unreachable PostgreSQL fails loudly in CI and skips elsewhere.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const adminUrl = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function withAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Why PostgreSQL can't be used (undefined when it can). In CI an unreachable server throws instead. */
export async function postgresUnavailable(what: string): Promise<string | undefined> {
  let reason: string | undefined;
  try {
    await withAdmin((client) => client.query('select 1'));
  } catch (error) {
    reason = error instanceof Error ? error.message : String(error);
  }
  if (reason === undefined) return undefined;
  const message = `PostgreSQL at PG_TEST_URL (${adminUrl.replace(/\/\/[^@/]*@/, '//…@')}) is unreachable: ${reason}`;
  if (process.env.CI) throw new Error(`${message}; CI requires ${what}`);
  console.warn(`${message}; skipping ${what}`);
  return reason;
}

/** A new empty database; `drop()` removes it (forcing out open connections). */
export async function createTempDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await withAdmin((client) => client.query(`create database "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withAdmin((client) => client.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
  };
}
