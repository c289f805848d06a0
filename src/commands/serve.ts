// `serve`: start the HTTP server and stop it cleanly on SIGTERM/SIGINT.
import { loadConfig, loadDotenvFile } from '../config/index.js';
import { createLogger, startServer } from '../server.js';
import type { Command } from './types.js';

export const serve: Command = {
  summary: 'start the HTTP server (default)',
  async run() {
    loadDotenvFile();
    const config = loadConfig();
    const log = createLogger(config);
    const server = await startServer(config, { log });
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info(
          `${signal} received: finishing running turns (up to ${config.engine.shutdownGraceMs / 1000} s), then stopping`,
        );
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await server.close();
    log.info('stopped');
    return 0;
  },
};
