#!/usr/bin/env node
// The claude-code-api command: `serve` (default) starts the server, `migrate` brings the database schema up to date.
import { ConfigError, loadConfig, loadDotenvFile } from './config/index.js';
import { createLogger, startServer } from './server.js';
import { createStore } from './store/index.js';
import { VERSION } from './version.js';

const USAGE = `claude-code-api ${VERSION}

Usage: claude-code-api [command]

Commands:
  serve     start the HTTP server (default)
  migrate   apply pending database migrations and exit
  version   print the version

Settings come from the environment and an optional .env file; see docs/configuration.md.`;

async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'serve';
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command === 'version' || command === '--version') {
    console.log(VERSION);
    return 0;
  }
  if (command !== 'serve' && command !== 'migrate') {
    console.error(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
    return 2;
  }
  loadDotenvFile();
  const config = loadConfig();
  if (command === 'migrate') {
    const store = await createStore(config.databaseUrl);
    await store.migrate();
    await store.close();
    console.log('database is up to date');
    return 0;
  }
  const log = createLogger(config);
  const server = await startServer(config, { log });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info(`${signal} received: finishing running turns (up to ${config.engine.shutdownGraceMs / 1000} s), then stopping`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await server.close();
  log.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(err.message);
    else console.error(`claude-code-api failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
