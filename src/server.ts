// Wires config, store, engine, services and the HTTP app together; starts listening and shuts down cleanly.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { Config } from './config/index.js';
import { authKind, bundledCliPath, probeCli, type CliInfo } from './engine/cli-info.js';
import { cliEnvironment } from './engine/cli-env.js';
import { Engine } from './engine/engine.js';
import { buildApp } from './http/app.js';
import { SessionService } from './sessions/service.js';
import { createStore, type Store } from './store/index.js';
import { VERSION } from './version.js';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  engine: Engine;
  cli: CliInfo;
  url: string;
  /** Refuses new turns, lets running ones finish (SHUTDOWN_GRACE_SECONDS), closes every process and the database. */
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] });
}

/** Warnings worth saying at start-up and in health. */
export function startupWarnings(config: Config, cli: CliInfo): string[] {
  const warnings: string[] = [];
  if (config.apiKeys.length === 0) {
    warnings.push(`Open mode: no API_KEYS are set, so anyone who can reach ${config.host}:${config.port} can drive Claude Code. Set API_KEYS before exposing the server.`);
  }
  if (cli.auth === 'subscription_login' || cli.auth === 'oauth_token') {
    if (config.apiKeys.length > 1) {
      warnings.push('Claude Code runs on a personal Pro/Max login while several API keys are configured. Anthropic\'s terms reserve subscription logins for the owner\'s own use; use an API key, Bedrock or Vertex for a shared service.');
    }
  }
  if (cli.auth === 'none') warnings.push('Claude Code has no credentials in this environment (no ANTHROPIC_API_KEY, cloud provider or login); turns will fail.');
  if (!cli.ok) warnings.push(`Claude Code CLI is not usable: ${cli.error}`);
  return warnings;
}

export interface StartOptions {
  log?: Logger;
  /** The environment Claude Code processes inherit (default: this process's); the server's secrets are removed from it. */
  baseEnv?: Record<string, string | undefined>;
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config);
  await mkdir(config.dataDir, { recursive: true });
  await mkdir(config.approvedDirectory, { recursive: true });
  const store = await createStore(config.databaseUrl);
  await store.migrate();

  const env = cliEnvironment(opts.baseEnv ?? process.env, { secretNames: config.secretNames, configDir: config.claude.configDir, clientApp: `claude-code-api/${VERSION}` });
  const cliPath = config.claude.cliPath ?? bundledCliPath();
  const cli = await probeCli(cliPath, env, config.claude.configDir);
  cli.auth = authKind(env, config.claude.configDir);
  const warnings = startupWarnings(config, cli);
  for (const w of warnings) log.warn(w);

  const engine = new Engine({ ...config.engine, timeoutMs: config.claude.timeoutMs }, log);
  const sessions = new SessionService(config, store, engine, log, env);
  const app = await buildApp({ config, store, sessions, engine, cli, version: VERSION, warnings }, { loggerInstance: log });
  const address = await app.listen({ port: config.port, host: config.host });
  log.info({ address, database: store.dialect, cli: cli.version, auth: cli.auth }, `claude-code-api ${VERSION} listening on ${address}`);

  let closing: Promise<void> | undefined;
  return {
    app,
    store,
    engine,
    cli,
    url: address,
    close: () =>
      (closing ??= (async () => {
        await engine.shutdown(config.engine.shutdownGraceMs);
        await app.close();
        await store.close();
      })()),
  };
}
