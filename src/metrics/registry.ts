// Prometheus metrics of the service (prom-client): HTTP latency, live processes, queues, turns, tools, cost, tokens, jobs, webhooks, memory.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineStats, TurnObserver } from '../engine/engine.js';
import type { TurnResult } from '../engine/events.js';
import type { ExitListener } from '../engine/supervisor.js';
import type { ReadCacheStats } from '../store/read-cache.js';

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  turnWait: Histogram;
  turns: Counter<'status' | 'model'>;
  toolCalls: Counter<'tool'>;
  toolDenials: Counter<'tool'>;
  costUsd: Counter<'model'>;
  tokens: Counter<'model' | 'kind'>;
  jobStates: Counter<'state'>;
  webhookAttempts: Counter<'outcome'>;
  spareClaims: Counter<'result'>;
  processExits: Counter<'reason' | 'status'>;
  fencedWrites: Counter<'write'>;
}

/** Which node reports (one of several, or the only one), for the node's own gauges. */
export interface NodeStats {
  id: string;
  role: string;
  /** Session leases this node holds (0 on a single node). */
  leases: () => number;
}

/**
 * A registry of its own per app (tests build many apps in one process). `readCache`: the store's read cache figures;
 * `node`: the node's id, role, leases and the job queue.
 */
export function createMetrics(
  engineStats: () => EngineStats,
  readCache?: () => ReadCacheStats,
  node?: NodeStats,
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cca_' });
  const m: Metrics = {
    registry,
    httpDuration: new Histogram({
      name: 'cca_http_request_duration_seconds',
      help: 'HTTP request latency by route and status.',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    turnWait: new Histogram({
      name: 'cca_turn_queue_wait_seconds',
      help: 'Time a turn waited (session queue and turn slot) before it started.',
      buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 300],
      registers: [registry],
    }),
    turns: new Counter({
      name: 'cca_turns_total',
      help: 'Turns that ended, by status and model.',
      labelNames: ['status', 'model'],
      registers: [registry],
    }),
    toolCalls: new Counter({
      name: 'cca_tool_calls_total',
      help: 'Tool calls made by Claude Code.',
      labelNames: ['tool'],
      registers: [registry],
    }),
    toolDenials: new Counter({
      name: 'cca_tool_denials_total',
      help: 'Tool calls denied by the workspace policy.',
      labelNames: ['tool'],
      registers: [registry],
    }),
    costUsd: new Counter({
      name: 'cca_cost_usd_total',
      help: 'Estimated cost of turns in USD, by model.',
      labelNames: ['model'],
      registers: [registry],
    }),
    tokens: new Counter({
      name: 'cca_tokens_total',
      help: 'Tokens used by turns, by model and kind.',
      labelNames: ['model', 'kind'],
      registers: [registry],
    }),
    jobStates: new Counter({
      name: 'cca_job_transitions_total',
      help: 'Jobs entering each state.',
      labelNames: ['state'],
      registers: [registry],
    }),
    webhookAttempts: new Counter({
      name: 'cca_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome (ok, failed).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    spareClaims: new Counter({
      name: 'cca_warm_spare_claims_total',
      help: "New sessions' first turns on the warm spares (WARM_SPARES): claimed (served by one), mismatch (one was ready but its options did not fit) or none (none was ready); refused counts the claimed ones whose spare then refused the claim, so the turn was run again on a cold process.",
      labelNames: ['result'],
      registers: [registry],
    }),
    processExits: new Counter({
      name: 'cca_cli_process_exits_total',
      help: 'Claude Code processes that ended, by why (closed, stalled, timeout, memory, wall_memory, crashed, failed_start) and how (exit code or signal).',
      labelNames: ['reason', 'status'],
      registers: [registry],
    }),
    fencedWrites: new Counter({
      name: 'cca_fenced_writes_total',
      help: "Writes of a session's turn this node did not make because another node had taken the session over (several nodes), by write (turn_start, turn_end, takeover).",
      labelNames: ['write'],
      registers: [registry],
    }),
  };
  const gauge = (name: string, help: string, read: (s: EngineStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(engineStats()));
      },
    });
  gauge('cca_live_cli_processes', 'Live Claude Code processes.', (s) => s.live_processes);
  gauge('cca_busy_cli_processes', 'Claude Code processes running a turn.', (s) => s.busy_processes);
  gauge('cca_warm_spares', 'Warm spares started and waiting for a new session (WARM_SPARES).', (s) => s.spares.ready);
  gauge('cca_turns_running', 'Turns holding a turn slot.', (s) => s.turns_running);
  gauge('cca_turn_queue_depth', 'Turns waiting for a turn slot.', (s) => s.turns_waiting);
  if (node) {
    new Gauge({
      name: 'cca_node_info',
      help: 'This node: its id (NODE_ID) and role (NODE_ROLE); always 1.',
      labelNames: ['node', 'role'],
      registers: [registry],
      collect() {
        this.set({ node: node.id, role: node.role }, 1);
      },
    });
    new Gauge({
      name: 'cca_session_leases_held',
      help: 'Sessions whose lease this node holds (several nodes).',
      registers: [registry],
      collect() {
        this.set(node.leases());
      },
    });
  }
  if (readCache) {
    /** A counter that follows a running total kept elsewhere: each scrape adds what it grew by. */
    const follow = (name: string, help: string, read: (s: ReadCacheStats) => number) => {
      let reported = 0;
      return new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          const now = read(readCache());
          this.inc(now - reported);
          reported = now;
        },
      });
    };
    follow('cca_db_read_cache_hits_total', 'Reads answered from the SQLite read cache.', (s) => s.hits);
    follow(
      'cca_db_read_cache_misses_total',
      'Reads through the SQLite read cache that went to the database.',
      (s) => s.misses,
    );
    new Gauge({
      name: 'cca_db_read_cache_bytes',
      help: 'Estimated memory held by the SQLite read cache.',
      registers: [registry],
      collect() {
        this.set(readCache().bytes);
      },
    });
  }
  return m;
}

/** Counts one finished turn (its result, or what a failed turn still produced). */
export function observeTurn(m: Metrics, status: string, result: TurnResult | undefined): void {
  const model = result?.model ?? 'unknown';
  m.turns.inc({ status, model });
  if (!result) return;
  for (const t of result.tools_used) m.toolCalls.inc({ tool: t.name });
  if (result.cost_usd > 0) m.costUsd.inc({ model }, result.cost_usd);
  const u = result.usage;
  const kinds: Array<[string, number]> = [
    ['input', u.input_tokens],
    ['output', u.output_tokens],
    ['cache_read', u.cache_read_input_tokens],
    ['cache_creation', u.cache_creation_input_tokens],
  ];
  for (const [kind, n] of kinds) if (n > 0) m.tokens.inc({ model, kind }, n);
}

/** Counts each ended Claude Code process by why and how it ended. */
export function processExitObserver(m: Metrics): ExitListener {
  return (exit) =>
    m.processExits.inc({
      reason: exit.reason,
      status: exit.signal ?? (exit.code === null ? 'none' : `code_${exit.code}`),
    });
}

/** Feeds the engine's turns into the metrics. */
export function turnObserver(m: Metrics): TurnObserver {
  return {
    started(turn) {
      if (turn.startedAt !== undefined) m.turnWait.observe((turn.startedAt - turn.createdAt) / 1000);
    },
    ended(turn) {
      const result = turn.result ?? turn.partial;
      const status = turn.result?.status ?? (turn.error?.kind === 'timeout' ? 'timeout' : 'error');
      observeTurn(m, status, result);
      for (const d of (result as { denials?: Array<{ tool: string }> } | undefined)?.denials ?? [])
        m.toolDenials.inc({ tool: d.tool });
    },
  };
}

/** The job queue's figures by state, as the jobs layer reports them. */
export type QueueDepthReader = () => Promise<Record<'waiting' | 'active' | 'delayed' | 'failed', number>>;

/** The job queue's depth by state (`cca_job_queue_depth{state}`); the node itself is `cca_node_info`. */
export function observeQueue(m: Metrics, depth: QueueDepthReader): void {
  depthGauge(
    m,
    'cca_job_queue_depth',
    'Jobs in the queue by state (waiting, active, delayed, failed); with REDIS_URL the whole cluster’s BullMQ queue.',
    depth,
  );
}

/** With REDIS_URL: the webhook queue's depth by state (`cca_webhook_queue_depth{state}`), the whole cluster's. */
export function observeWebhookQueue(m: Metrics, depth: QueueDepthReader): void {
  depthGauge(
    m,
    'cca_webhook_queue_depth',
    'Webhook delivery attempts in the BullMQ queue by state (waiting, active, delayed: retries waiting for their backoff).',
    depth,
  );
}

function depthGauge(m: Metrics, name: string, help: string, depth: QueueDepthReader): void {
  new Gauge({
    name,
    help,
    labelNames: ['state'],
    registers: [m.registry],
    async collect() {
      this.reset();
      try {
        const d = await depth();
        for (const state of ['waiting', 'active', 'delayed', 'failed'] as const) this.set({ state }, d[state]);
      } catch {
        // The queue did not answer (Redis down): no figures rather than stale ones.
      }
    },
  });
}
