// Test helper: the whole AppDeps from real services (engine, templates, sessions, approvals) over a given store, without starting a server, for tests that drive the app with inject.
import { pino } from 'pino';
import { ApprovalService } from '../../src/approvals/service.js';
import type { Config } from '../../src/config/index.js';
import { bundledCliPath, probeCli } from '../../src/engine/cli-info.js';
import { Engine } from '../../src/engine/engine.js';
import type { AppDeps } from '../../src/http/deps.js';
import { SessionService } from '../../src/sessions/service.js';
import type { Store } from '../../src/store/index.js';
import { TemplateRegistry } from '../../src/templates/registry.js';

export interface RealAppDeps {
  deps: AppDeps;
  /** Ends what the services started (the engine's processes and timers); the store stays open. */
  close(): Promise<void>;
}

/** Every service the routes use, as the server builds them; `extra` replaces some (keys, audit trail, Redis …). */
export async function realAppDeps(config: Config, store: Store, extra: Partial<AppDeps> = {}): Promise<RealAppDeps> {
  const log = pino({ level: 'silent' });
  const templates = await TemplateRegistry.open({ claude: config.claude, log });
  const engine = new Engine({ ...config.engine, timeoutMs: config.claude.timeoutMs }, log);
  const approvals = new ApprovalService(config, store, log);
  const sessions = new SessionService(config, store, engine, log, {}, templates, undefined, approvals);
  const cli = await probeCli(config.claude.cliPath ?? bundledCliPath(), {}, config.claude.configDir);
  return {
    deps: { config, store, sessions, engine, cli, templates, approvals, version: '0.1.0-test', warnings: [], ...extra },
    async close() {
      templates.close();
      await engine.shutdown(0);
    },
  };
}
