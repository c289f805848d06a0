// What the HTTP layer is given: configuration and the services behind the routes (never the CLI or SQL directly).
import 'fastify';
import type { Config } from '../config/index.js';
import type { CliInfo } from '../engine/cli-info.js';
import type { Engine } from '../engine/engine.js';
import type { SessionService } from '../sessions/service.js';
import type { Store } from '../store/index.js';

export interface AppDeps {
  config: Config;
  store: Store;
  sessions: SessionService;
  engine: Engine;
  cli: CliInfo;
  /** The service's own version (package.json). */
  version: string;
  /** Start-up warnings also reported by health (open mode, subscription login shared by several keys …). */
  warnings: string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's tenant: an id derived from its API key, or `local` in open mode. */
    tenant: string;
  }
}
