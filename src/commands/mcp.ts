// `mcp`: serve the MCP server over stdio (for clients that spawn it), acting as the tenant of MCP_API_KEY; logs go to stderr.
import { mkdir } from 'node:fs/promises';
import { pino } from 'pino';
import { ConfigError, loadConfig, loadDotenvFile, type Config } from '../config/index.js';
import { OPEN_TENANT } from '../http/plugins/auth.js';
import type { RemoteTurns } from '../mcp/remote.js';
import { serveStdio } from '../mcp/stdio.js';
import { KeyService } from '../security/keys-service.js';
import { startServer } from '../server.js';
import { createStore } from '../store/index.js';
import { VERSION } from '../version.js';
import type { Command } from './types.js';

/** The key the stdio server's turns act as (serveStdio's `caller`). */
type StdioCaller = NonNullable<Parameters<typeof serveStdio>[4]>;

/**
 * Who the stdio server acts as: the tenant `local` in open mode, else MCP_API_KEY's tenant and key (which must be
 * valid), whose budget and fair share its turns use.
 */
async function actorOf(config: Config): Promise<{ tenant: string; caller: StdioCaller }> {
  const store = await createStore(config.databaseUrl);
  try {
    await store.migrate();
    const keys = new KeyService(config, store.apiKeys);
    if (await keys.isOpen()) return { tenant: OPEN_TENANT, caller: {} };
    if (!config.mcp.apiKey) {
      throw new ConfigError(
        'Missing environment variable MCP_API_KEY: API keys are configured, so `mcp` needs the key whose sessions it acts on',
      );
    }
    const outcome = await keys.authenticate(config.mcp.apiKey);
    if (!outcome.ok)
      throw new ConfigError(
        `Invalid environment variable MCP_API_KEY: the key is ${outcome.reason === 'revoked' ? 'revoked' : 'not valid'} (got (hidden))`,
      );
    const key = outcome.principal;
    return { tenant: key.tenant, caller: { keyId: key.id, keyBudgetUsd: key.budgetUsd } };
  } finally {
    await store.close();
  }
}

export const mcp: Command = {
  summary: 'serve MCP over stdin/stdout (acts as the tenant of MCP_API_KEY)',
  async run() {
    loadDotenvFile();
    const loaded = loadConfig();
    // Nobody waits for the answers of turns still running when the client leaves: interrupt them at once.
    const config: Config = { ...loaded, engine: { ...loaded.engine, shutdownGraceMs: 0 } };
    // stdout carries the protocol: every log line goes to stderr.
    const log = pino(
      { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] },
      pino.destination(2),
    );
    await mkdir(config.dataDir, { recursive: true });
    const { tenant, caller } = await actorOf(config);
    const server = await startServer(config, { log, listen: false });
    try {
      const stop = new Promise<void>((resolve) => {
        process.once('SIGTERM', () => resolve());
        process.once('SIGINT', () => resolve());
      });
      log.info({ tenant }, `claude-code-api ${VERSION} serving MCP on stdio`);
      // The key is looked up again (no cache) before every request: a revoke anywhere stops this server's next call.
      const keys = new KeyService({ ...config, keyCacheMs: 0 }, server.store.apiKeys);
      const authorize = async () => {
        if (tenant === OPEN_TENANT && (await keys.isOpen())) return;
        if (!config.mcp.apiKey) throw new Error('Open mode has ended (a key exists): set MCP_API_KEY and restart.');
        const outcome = await keys.authenticate(config.mcp.apiKey);
        if (!outcome.ok)
          throw new Error(
            `MCP_API_KEY ${outcome.reason === 'revoked' ? 'has been revoked' : 'is not valid'}: this request was refused.`,
          );
      };
      // A cluster: a turn of a session an HTTP node runs is run there, with MCP_API_KEY as the caller's key.
      const { sessionOwner } = server.app;
      const remote: RemoteTurns | undefined = sessionOwner && {
        ownerOf: (sessionId) => sessionOwner(undefined, sessionId),
        headers: config.mcp.apiKey ? { authorization: `Bearer ${config.mcp.apiKey}` } : {},
      };
      await serveStdio(
        { config, sessions: server.sessions, templates: server.templates, log, version: VERSION },
        tenant,
        stop,
        authorize,
        caller,
        remote,
      );
    } finally {
      await server.close();
    }
    return 0;
  },
};
