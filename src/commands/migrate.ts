// `migrate`: apply pending database migrations and exit.
import { loadConfig, loadDotenvFile } from '../config/index.js';
import { createStore } from '../store/index.js';
import type { Command } from './types.js';

export const migrate: Command = {
  summary: 'apply pending database migrations and exit',
  async run() {
    loadDotenvFile();
    const config = loadConfig();
    const store = await createStore(config.databaseUrl);
    try {
      const applied = await store.migrate();
      console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date');
    } finally {
      await store.close();
    }
    return 0;
  },
};
