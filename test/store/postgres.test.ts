// Runs the storage contract on PostgreSQL, in a throwaway database created through PG_TEST_URL.
import { describe } from 'vitest';
import { createTempDatabase, postgresUnavailable } from '../support/postgres.js';
import { describeStoreSuite } from './store-suite.js';

const reason = await postgresUnavailable('the PostgreSQL half of the store tests');

describe.skipIf(reason !== undefined)('PostgreSQL', () => {
  describeStoreSuite('PostgreSQL', async () => {
    const db = await createTempDatabase('cca_store_test');
    return { url: db.url, cleanup: db.drop };
  });
});
