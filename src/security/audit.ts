// The audit trail: rows for requests (security events written before their response) and for the tool calls and denials of turns.
import type { AuditRepo } from '../store/audit-repo.js';
import type { NewAuditRow, SessionRow } from '../store/schema.js';
import type { SessionsRepo } from '../store/sessions-repo.js';

/** Longest tool input kept in an audit row, in characters of JSON. */
const MAX_INPUT_CHARS = 2000;

const VERBS: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'update', DELETE: 'delete' };

/** Actions whose derived name would read badly. */
const NAMED: Record<string, string> = {
  'DELETE /keys/:id': 'key.revoke',
  'POST /tokens/count': 'tokens.count',
  'POST /sessions/:name/jobs': 'job.create',
  'POST /sessions/:name/jobs/:id/cancel': 'job.cancel',
  'POST /sessions/:name/files': 'file.upload',
  'PUT /sessions/:name/files/*': 'file.write',
  'DELETE /sessions/:name/files/*': 'file.delete',
  'POST /templates/reload': 'template.reload',
  'POST /mcp': 'mcp.request',
};

function singular(word: string): string {
  return word.length > 3 && word.endsWith('s') ? word.slice(0, -1) : word;
}

/**
 * The action of a mutating route, from its method and URL pattern (without the /api/v1 prefix):
 * `POST /sessions` → `session.create`, `DELETE /sessions/:name` → `session.delete`,
 * `POST /sessions/:name/chat/stream` → `session.chat_stream`, `PUT /sessions/:name/things/*` → `session.things.update`.
 */
export function actionOf(method: string, route: string): string {
  const named = NAMED[`${method} ${route}`];
  if (named) return named;
  const parts = route.split('/').filter((p) => p !== '');
  const type = singular(parts[0] ?? 'root');
  const statics = parts.slice(1).filter((p) => !p.startsWith(':') && p !== '*');
  const verb = VERBS[method] ?? method.toLowerCase();
  if (statics.length === 0) return `${type}.${verb}`;
  return method === 'POST' ? `${type}.${statics.join('_')}` : `${type}.${statics.join('_')}.${verb}`;
}

/** `ok` below 400, `rejected` for 4xx, `failed` for 5xx. */
export function outcomeOf(status: number): string {
  return status < 400 ? 'ok' : status < 500 ? 'rejected' : 'failed';
}

/** A tool input as kept in the trail: JSON, cut to MAX_INPUT_CHARS. */
export function clippedInput(input: unknown): unknown {
  let text: string;
  try {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify answers undefined for undefined, a function or a symbol
    text = JSON.stringify(input) ?? 'null';
  } catch {
    return '[unserializable]';
  }
  return text.length <= MAX_INPUT_CHARS ? input : `${text.slice(0, MAX_INPUT_CHARS)}…`;
}

/** The request whose work is recorded: its key, request id and address. */
export interface Actor {
  keyId: string | null;
  requestId: string | null;
  ip: string | null;
}

export interface TurnAuditFacts {
  turnId: string;
  tools: ReadonlyArray<{ name: string; input: unknown }>;
  denials: ReadonlyArray<{ tool: string; input: unknown; reason: string }>;
}

export class AuditTrail {
  readonly #repo: AuditRepo;
  readonly #onError: (err: unknown) => void;
  #pending = new Set<Promise<void>>();

  constructor(repo: AuditRepo, onError: (err: unknown) => void = () => {}) {
    this.#repo = repo;
    this.#onError = onError;
  }

  /** Queues rows for writing; a failure is reported through onError, never thrown at the caller. */
  record(rows: NewAuditRow | NewAuditRow[]): Promise<void> {
    const list = Array.isArray(rows) ? rows : [rows];
    const write = this.#repo.insertMany(list).catch(this.#onError);
    this.#pending.add(write);
    void write.finally(() => this.#pending.delete(write));
    return write;
  }

  /** One row per tool call and per denial of a turn, naming the request that started it (none for background work). */
  turn(session: Pick<SessionRow, 'owner' | 'name'>, facts: TurnAuditFacts, actor?: Actor): Promise<void> {
    if (facts.tools.length === 0 && facts.denials.length === 0) return Promise.resolve();
    const base = {
      key_id: actor?.keyId ?? null,
      tenant: session.owner,
      resource: `sessions/${session.name}`,
      session: session.name,
      status: null,
      request_id: actor?.requestId ?? null,
      ip: actor?.ip ?? null,
      method: null,
      route: null,
    };
    return this.record([
      ...facts.tools.map((t) => ({
        ...base,
        action: 'tool.use',
        outcome: 'ok',
        detail: { tool: t.name, input: clippedInput(t.input), turn_id: facts.turnId },
      })),
      ...facts.denials.map((d) => ({
        ...base,
        action: 'tool.deny',
        outcome: 'denied',
        detail: { tool: d.tool, input: clippedInput(d.input), reason: d.reason, turn_id: facts.turnId },
      })),
    ]);
  }

  /** Writes a row now; a failure is thrown at the caller (security events: no row, no answer). */
  async write(row: NewAuditRow): Promise<void> {
    const write = this.#repo.insert(row);
    this.#pending.add(write);
    try {
      await write;
    } finally {
      this.#pending.delete(write);
    }
  }

  /** Resolves once every row queued so far is written (shutdown, tests). */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
  }
}

/** The trail of a store, one per store (so the session service and the HTTP layer share it without new wiring). */
const trails = new WeakMap<object, AuditTrail>();

export function auditTrailOf(store: { audit: AuditRepo }, onError?: (err: unknown) => void): AuditTrail {
  let trail = trails.get(store);
  if (!trail) {
    trail = new AuditTrail(store.audit, onError);
    trails.set(store, trail);
  }
  return trail;
}

/** What a finished turn reports that the trail keeps: its tool calls and the calls the policy denied. */
export interface TurnOutcomeForAudit {
  tools_used?: ReadonlyArray<{ name: string; input: unknown }>;
  denials?: ReadonlyArray<{ tool: string; input: unknown; reason: string }>;
}

/** Writes the tool and denial rows of a finished turn of a session (called by the session service when a turn ends). */
export async function auditTurn(
  store: { audit: AuditRepo; sessions: SessionsRepo },
  sessionId: string,
  turnId: string,
  result: TurnOutcomeForAudit | undefined,
  actor?: Actor,
): Promise<void> {
  const tools = result?.tools_used ?? [];
  const denials = result?.denials ?? [];
  if (tools.length === 0 && denials.length === 0) return;
  const session = await store.sessions.findById(sessionId);
  if (!session) return;
  await auditTrailOf(store).turn(session, { turnId, tools, denials }, actor);
}
