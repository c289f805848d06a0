// Wires config, store, engine, services and the HTTP app together; starts listening and shuts down cleanly.
import { mkdir } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { ConfigError, type Config } from './config/index.js';
import { authKind, bundledCliPath, probeCli, type CliInfo } from './engine/cli-info.js';
import { cliEnvironment } from './engine/cli-env.js';
import { Engine } from './engine/engine.js';
import { buildApp } from './http/app.js';
import { createJobs, type Jobs } from './jobs/index.js';
import { OWNER_ENV, ownerMark, reapOrphans } from './engine/orphans.js';
import {
  createMetrics,
  observeQueue,
  observeWebhookQueue,
  processExitObserver,
  turnObserver,
} from './metrics/registry.js';
import { startSecurity } from './security/setup.js';
import { TurnSecurity } from './security/turn-security.js';
import { ConversationService } from './sessions/conversations.js';
import { startIdleSweep, type IdleSweep } from './sessions/idle-sweep.js';
import { SharedHolds } from './security/shared-holds.js';
import { SessionService } from './sessions/service.js';
import { ApprovalService } from './approvals/service.js';
import { createStore, type Store } from './store/index.js';
import { startCluster, type Cluster } from './cluster/index.js';
import { TemplateRegistry } from './templates/registry.js';
import { VERSION } from './version.js';
import { removeUploadLeftovers } from './workspace/paths.js';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  engine: Engine;
  cli: CliInfo;
  sessions: SessionService;
  templates: TemplateRegistry;
  /** Async jobs and their webhooks. */
  jobs: Jobs;
  /** This node's place in a cluster (CLUSTER_ENABLED); undefined on a single node. */
  cluster: Cluster | undefined;
  /** The address listened on ('' when started with `listen: false`). */
  url: string;
  /** Deletes the idle sessions the compatible endpoints opened (COMPAT_SESSION_IDLE_HOURS); runs on a timer. */
  idleSweep: IdleSweep;
  /** Refuses new turns, lets running ones finish (SHUTDOWN_GRACE_SECONDS), closes every process and the database. */
  close(): Promise<void>;
}

/**
 * The server's logger, on stdout. Lines are written asynchronously: under load the lines logged while a write is
 * under way go out together in the next one, instead of one write(2) per request line; when idle each line goes at
 * once. What is still buffered is flushed when the process exits.
 */
export function createLogger(config: Config): Logger {
  return pino(
    { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] },
    pino.destination({ dest: 1, sync: false }),
  );
}

/** Warnings worth saying at start-up and in health. */
export function startupWarnings(config: Config, cli: CliInfo, storedKeys = 0): string[] {
  const warnings: string[] = [...config.warnings];
  if (config.apiKeys.length + config.adminApiKeys.length + storedKeys === 0) {
    warnings.push(
      'Open mode: no API key is configured or stored, so anyone who can reach this server can drive Claude Code. Set API_KEYS or ADMIN_API_KEYS before exposing it.',
    );
  }
  if (cli.auth === 'subscription_login' || cli.auth === 'oauth_token') {
    if (config.apiKeys.length + storedKeys > 1) {
      warnings.push(
        "Claude Code runs on a personal Pro/Max login while several API keys are configured. Anthropic's terms reserve subscription logins for the owner's own use; use an API key, Bedrock or Vertex for a shared service.",
      );
    }
  }
  if (cli.auth === 'none')
    warnings.push(
      'Claude Code has no credentials in this environment (no ANTHROPIC_API_KEY, cloud provider or login); turns will fail.',
    );
  if (!cli.ok) warnings.push(`Claude Code CLI is not usable: ${cli.error}`);
  return warnings;
}

export interface StartOptions {
  log?: Logger;
  /** The environment Claude Code processes inherit (default: this process's); the server's secrets are removed from it. */
  baseEnv?: Record<string, string | undefined>;
  /**
   * false: build everything but do not listen on a port, and leave the recovery of a previous run (unfinished turns,
   * jobs) and the job worker to the HTTP server of this DATA_DIR, which may be running (MCP over stdio). Default true.
   */
  listen?: boolean;
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config);
  await mkdir(config.dataDir, { recursive: true });
  await mkdir(config.approvedDirectory, { recursive: true });
  // An invalid templates file stops the start here, naming its file and line.
  const templates = await TemplateRegistry.open({ claude: config.claude, log, userPath: config.templates.path });
  if (config.templates.watch) templates.watch();
  const store = await createStore(config.databaseUrl, { readCacheBytes: config.sqliteReadCacheBytes });
  await store.migrate();
  // Claude Code processes of a server of this DATA_DIR that died mid-turn would still write to their sessions.
  await reapOrphans(config.dataDir, log);

  const env = cliEnvironment(
    { ...(opts.baseEnv ?? process.env), [OWNER_ENV]: ownerMark(config.dataDir) },
    {
      secretNames: config.secretNames,
      configDir: config.claude.configDir,
      clientApp: `claude-code-api/${VERSION}`,
      allow: config.security.cliEnvAllow,
    },
  );
  const cliPath = config.claude.cliPath ?? bundledCliPath();
  const cli = await probeCli(cliPath, env, config.claude.configDir);
  cli.auth = authKind(env, config.claude.configDir);
  const security = await startSecurity(config, store, env, log);
  const warnings = startupWarnings(config, cli, security.storedKeys);
  for (const w of warnings) log.warn(w);
  const notice = security.listen.notice;
  if (notice) {
    log[notice.level](notice.message);
    warnings.push(notice.message);
  }

  // Several nodes: a session's process runs where its lease is; late-bound to the engine and sessions made below.
  let sessionsOf: SessionService | undefined;
  let engineOf: Engine | undefined;
  let cluster: Cluster | undefined;
  if (config.node.cluster && security.redis) {
    cluster = await startCluster({
      redis: security.redis,
      keyPrefix: config.redis.keyPrefix,
      node: config.node,
      keepEventsMs: config.engine.replayMs,
      log,
      announce: opts.listen !== false,
      inUse: (id) => engineOf?.isLive(id) === true || engineOf?.currentTurn(id) !== undefined,
      // Every new owner raises the session's epoch in the database: the writes of an older owner are fenced on it.
      recordEpoch: (id, epoch) => store.fenced.raiseEpoch(id, epoch),
      // A session taken over from a node that died: its unfinished turn is closed, its event ids go on after the dead one's.
      onFresh: async (id, epoch) => {
        if (!cluster || !sessionsOf) return;
        const last = await cluster.events.lastEventId(id);
        await sessionsOf.recoverMoved(id, last, epoch);
        engineOf?.raiseEventFloor(id, last);
      },
      onLost: (id) => void engineOf?.restartSession(id),
      // Another node needs the session (a job it runs): an idle process here is closed, which gives up the lease.
      onReleaseAsked: (id) => {
        if (engineOf && engineOf.currentTurn(id) === undefined) void engineOf.restartSession(id);
      },
    });
  }
  const engine = new Engine({ ...config.engine, timeoutMs: config.claude.timeoutMs }, log, cluster?.leases);
  engineOf = engine;
  if (cluster) {
    const events = cluster.events;
    engine.observe({ started: (turn) => events.follow(turn) });
  }
  // MCP over stdio serves no HTTP, so no node can forward a session's requests here: once a turn has ended and been
  // recorded, its idle process is closed, which gives the session's lease back for the HTTP nodes.
  if (cluster && opts.listen === false)
    engine.observe({
      ended: (turn) =>
        void turn.settled.then(() => {
          if (engine.currentTurn(turn.sessionId) === undefined) void engine.restartSession(turn.sessionId);
        }),
    });
  const metrics = createMetrics(
    () => engine.stats(),
    () => store.cache.stats(),
    {
      id: config.node.id,
      role: config.node.role,
      leases: () => cluster?.leases.count ?? 0,
    },
  );
  engine.observe(turnObserver(metrics));
  engine.onProcessExit(processExitObserver(metrics));
  engine.spares.onClaim((result) => metrics.spareClaims.inc({ result }));
  // Moderation rules (an invalid file stops the start), budgets, and the Bash sandbox probe (unavailable: Bash refused).
  const turnSecurity = await TurnSecurity.start({
    config,
    cliEnv: env,
    cliPath,
    auth: cli.auth,
    log,
    spend: store.spend,
    // A hold lasts at most a turn's time limit and an approval's wait, plus a margin (a dead node never frees its own).
    sharedHolds:
      config.node.cluster && security.redis
        ? new SharedHolds(
            security.redis,
            config.redis.keyPrefix,
            config.claude.timeoutMs + config.approvals.timeoutMs + 60_000,
          )
        : undefined,
  }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  warnings.push(...turnSecurity.warnings());
  const tenants = config.apiKeys.length + security.storedKeys;
  if (!turnSecurity.wall.active && tenants > 1 && !config.security.wall.unconfinedTenants) {
    await turnSecurity.close();
    await security.close();
    await store.close();
    throw new ConfigError(
      `The wall cannot run here (${turnSecurity.wall.status.reason}), and ${tenants} API keys are configured: without the wall one tenant's session could reach another's. Serve one key, make the wall work (docs/deployment.md), or set WALL_UNCONFINED_TENANTS=true to accept the risk.`,
    );
  }
  if (!turnSecurity.wall.active && !config.security.wall.unconfinedTenants)
    security.keys.refuseNewTenants(turnSecurity.wall.status.reason ?? 'the wall is off');
  const approvals = new ApprovalService(config, store, log);
  const sessions = new SessionService(config, store, engine, log, env, templates, turnSecurity, approvals);
  if (opts.listen !== false) await turnSecurity.removeSpareLeftovers();
  engine.spares.use(
    opts.listen === false ? undefined : sessions.spareFactory(),
    opts.listen === false ? 'this process serves no API' : `spares need the wall (${turnSecurity.wall.status.reason})`,
  );
  sessionsOf = sessions;
  sessions.fence = cluster?.leases;
  sessions.onFenced = (write) => metrics.fencedWrites.inc({ write });
  // In a cluster other nodes' turns may be waiting for these: a node expires a dead owner's when it takes its session over.
  const expired = opts.listen === false || cluster ? [] : await approvals.expireLeftovers();
  if (expired.length > 0)
    log.warn(
      `${expired.length} approval(s) or question(s) were pending when the server last stopped; marked them expired`,
    );
  // In a cluster another node may be running those turns: a node closes a dead owner's turn when it takes its session over.
  const closed = opts.listen === false || cluster ? 0 : await sessions.closeUnfinishedTurns();
  if (closed > 0)
    log.warn(`${closed} turn(s) were still running when the server last stopped; recorded them as interrupted`);
  // Temp files of uploads cut off by a kill; swept before listening, so never one of an upload of this server.
  const leftovers = opts.listen === false ? [] : await removeUploadLeftovers(config.approvedDirectory);
  if (leftovers.length > 0)
    log.warn(
      { files: leftovers.slice(0, 20) },
      `removed ${leftovers.length} temp file(s) of uploads cut off when the server last stopped`,
    );
  const jobs = await createJobs({
    config,
    store,
    sessions,
    approvals,
    log,
    version: VERSION,
    observer: {
      jobState: (state) => metrics.jobStates.inc({ state }),
      webhookAttempt: (outcome) => metrics.webhookAttempts.inc({ outcome }),
    },
  });
  observeQueue(metrics, () => jobs.worker.depth());
  const webhookDepth = jobs.dispatcher.depth.bind(jobs.dispatcher);
  if (jobs.dispatcher.backend === 'redis')
    observeWebhookQueue(metrics, () => webhookDepth() ?? Promise.reject(new Error('no webhook queue')));
  // A revoked key stops here (each instance hears of it; a job ends once): the jobs this node runs for it fail, the
  // rest of its turns here are interrupted, and its queued jobs fail.
  security.keys.onRevoked((key) => {
    const jobsStopped = jobs.runner.failRunningOf(key.id);
    const turnsStopped = sessions.interruptTurnsOf(key.id);
    if (jobsStopped + turnsStopped > 0)
      log.info(
        { key: key.id, jobs: jobsStopped, turns: turnsStopped },
        'stopped the running turns of a revoked API key',
      );
    jobs.worker
      .failQueuedOf(key.tenant)
      .then((n) => n > 0 && log.info({ key: key.id, jobs: n }, 'failed the queued jobs of a revoked API key'))
      .catch((err: unknown) => log.error({ err, key: key.id }, 'could not fail the queued jobs of a revoked API key'));
  });
  const app = await buildApp(
    {
      config,
      store,
      sessions,
      templates,
      engine,
      cli,
      version: VERSION,
      warnings,
      metrics,
      keys: security.keys,
      auditTrail: security.auditTrail,
      tokens: security.tokens,
      redis: security.redis,
      jobs: jobs.service,
      approvals,
      cluster,
    },
    { loggerInstance: log },
  );
  const address = opts.listen === false ? '' : await app.listen({ port: config.port, host: security.listen.host });
  if (address) await cluster?.nodes.listening(address);
  if (address)
    log.info(
      { address, host: security.listen.host, database: store.dialect, cli: cli.version, auth: cli.auth },
      `claude-code-api ${VERSION} listening on ${address}`,
    );
  // Jobs left running by a stopped server are re-queued (or failed), queued ones start, pending webhooks go out.
  if (opts.listen !== false) await jobs.start();
  const idleSweep = startIdleSweep(
    new ConversationService(sessions, store, config.maxMessageChars),
    opts.listen === false ? 0 : config.compatSessionIdleMs,
    log,
  );

  let closing: Promise<void> | undefined;
  return {
    app,
    store,
    engine,
    cli,
    sessions,
    templates,
    jobs,
    idleSweep,
    cluster,
    url: address,
    close: () =>
      (closing ??= (async () => {
        templates.close();
        await idleSweep.stop();
        jobs.stopIntake();
        await engine.shutdown(config.engine.shutdownGraceMs);
        await jobs.stop();
        await cluster?.close();
        await turnSecurity.close();
        await app.close();
        await security.close();
        await store.close();
      })()),
  };
}
