// Runs the storage contract on PostgreSQL, in a throwaway database created through PG_TEST_URL.
import { describe } from 'vitest';
import { needs } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';
import { describeStoreSuite } from './store-suite.js';

const reason = await needs('the PostgreSQL half of the store tests', 'postgresql');

describe.skipIf(reason)('PostgreSQL', () => {
  describeStoreSuite('PostgreSQL', async () => {
    const db = await createTempDatabase('cca_store_test');
    return { url: db.url, cleanup: db.drop };
  });
});
