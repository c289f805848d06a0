// Runs the storage contract on PostgreSQL, in a throwaway database created through PG_TEST_URL.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { describeStoreSuite } from './store-suite.js';

const adminUrl = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function withAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function unreachableReason(): Promise<string | undefined> {
  try {
    await withAdmin((client) => client.query('select 1'));
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const reason = await unreachableReason();
if (reason !== undefined) {
  const message = `PostgreSQL at PG_TEST_URL (${adminUrl.replace(/\/\/[^@/]*@/, '//…@')}) is unreachable: ${reason}`;
  if (process.env.CI) throw new Error(`${message}; CI requires the PostgreSQL half of the store tests`);
  console.warn(`${message}; skipping the PostgreSQL store tests`);
}

describe.skipIf(reason !== undefined)('PostgreSQL', () => {
  describeStoreSuite('PostgreSQL', async () => {
    const name = `cca_store_test_${randomBytes(6).toString('hex')}`;
    await withAdmin((client) => client.query(`create database "${name}"`));
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      cleanup: () => withAdmin((client) => client.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
    };
  });
});
