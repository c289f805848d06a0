// Runs the storage contract on SQLite: an absolute sqlite:/// file and a sqlite:./relative one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describeStoreSuite } from './store-suite.js';

async function tempFolder(): Promise<{ folder: string; cleanup: () => Promise<void> }> {
  const folder = await mkdtemp(join(tmpdir(), 'cca-store-'));
  return { folder, cleanup: () => rm(folder, { recursive: true, force: true }) };
}

describeStoreSuite('SQLite (absolute path)', async () => {
  const { folder, cleanup } = await tempFolder();
  return { url: `sqlite://${join(folder, 'nested', 'store.db')}`, cleanup };
});

describeStoreSuite('SQLite (relative path)', async () => {
  const { folder, cleanup } = await tempFolder();
  const path = relative(process.cwd(), join(folder, 'store.db'));
  return { url: `sqlite:${path.startsWith('.') ? path : `./${path}`}`, cleanup };
});

describeStoreSuite('SQLite (in memory)', async () => ({ url: 'sqlite::memory:', cleanup: async () => {} }));
