// What the HTTP layer is given: configuration and the services behind the routes (never the CLI or SQL directly).
import 'fastify';
import type { ApprovalService } from '../approvals/service.js';
import type { Cluster } from '../cluster/index.js';
import type { Config } from '../config/index.js';
import type { CliInfo } from '../engine/cli-info.js';
import type { Engine } from '../engine/engine.js';
import type { JobService } from '../jobs/service.js';
import type { SessionService } from '../sessions/service.js';
import type { Metrics } from '../metrics/registry.js';
import type { Store } from '../store/index.js';
import type { TemplateRegistry } from '../templates/registry.js';
import type { Redis } from 'ioredis';
import type { AuditTrail } from '../security/audit.js';
import type { KeyService } from '../security/keys-service.js';
import type { TokenCounter } from '../usage/token-count.js';

export interface AppDeps {
  config: Config;
  store: Store;
  sessions: SessionService;
  engine: Engine;
  cli: CliInfo;
  /** The agent templates (shipped file and TEMPLATES_PATH). */
  templates: TemplateRegistry;
  /** The service's own version (package.json). */
  version: string;
  /** Prometheus metrics (absent in tests that don't need them). */
  metrics?: Metrics;
  /** Start-up warnings also reported by health (open mode, subscription login shared by several keys …). */
  warnings: string[];
  /** API keys (configured and stored); built from the config and store when absent. */
  keys?: KeyService;
  /** Where audit rows go; built from the store when absent. */
  auditTrail?: AuditTrail;
  /** Token counts with Claude Code's credentials; estimates only when absent. */
  tokens?: TokenCounter;
  /** Shared rate-limit counters (REDIS_URL). */
  redis?: Redis;
  /** Approvals, questions and permission rules (absent in tests of the HTTP shell: their routes answer 503). */
  approvals?: ApprovalService;
  /** Async jobs (absent in tests of the HTTP shell: the job routes then answer 503). */
  jobs?: JobService;
  /** This node's place in a cluster (CLUSTER_ENABLED): session requests are forwarded to the owner node. */
  cluster?: Cluster;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's tenant: an id derived from its API key, or `local` in open mode. */
    tenant: string;
  }
}
