// Approvals and questions: a paused tool call is stored, announced on its turn, and resumed by a person's answer, a time-out or the turn's end.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { PersonEvent } from '../engine/events.js';
import type { Turn } from '../engine/turn.js';
import { ProblemError } from '../problems.js';
import { auditTrailOf, clippedInput, type Actor } from '../security/audit.js';
import type { Store } from '../store/index.js';
import type { ApprovalKind, ApprovalRow, JsonObject } from '../store/schema.js';
import { alreadySettled, approvalAnswer, questionAnswer, type AnswerInput, type PauseAnswer } from './answers.js';
import type { RememberedAnswer, RuleLayer } from './layered-rules.js';
import { decisionOf, eventOf } from './person-events.js';
import { checkRules, RULE_OUTCOMES, ruleForCall, type PermissionRules } from './rules.js';

export interface PauseRequest {
  kind: ApprovalKind;
  turn: Turn;
  tenant: string;
  sessionId: string;
  sessionName: string;
  tool: string;
  input: unknown;
  toolUseId?: string;
  rule?: string;
  /** Aborts when Claude Code gives up on the call (the turn was interrupted). */
  signal?: AbortSignal;
}

/** Told of every new pause (the jobs layer turns it into a webhook). */
export type PauseListener = (row: ApprovalRow, event: PersonEvent) => Promise<void> | void;

interface Waiter {
  /** The paused turn: told on its stream when the pause is settled. */
  turn: Turn;
  resolve: (answer: PauseAnswer) => void;
}

const RESTART_REASON =
  'The server restarted while this waited for an answer; the turn was recorded as interrupted. The session goes on from its transcript at the next message.';

export class ApprovalService {
  private readonly waiters = new Map<string, Waiter>();
  private readonly listeners = new Set<PauseListener>();
  private readonly requestRules = new Map<string, PermissionRules>();
  /** The job a turn belongs to, when the jobs layer runs it. */
  jobOfTurn: (turnId: string) => string | undefined = () => undefined;

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  onPause(fn: PauseListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The rules a request added for its own turn (kept until the turn ends). */
  setRequestRules(turn: Turn, rules: PermissionRules | undefined): void {
    if (!rules || RULE_OUTCOMES.every((o) => (rules[o] ?? []).length === 0)) return;
    this.requestRules.set(turn.id, rules);
    void turn.settled.then(() => this.requestRules.delete(turn.id));
  }

  /** Every level's rules for a call in this session's turn, and the remembered answers of its key and session. */
  async rulesFor(
    tenant: string,
    sessionId: string,
    templateRules: PermissionRules | undefined,
    turnId: string | undefined,
  ): Promise<{ layers: RuleLayer[]; remembered: RememberedAnswer[] }> {
    const [keyRows, sessionRows] = await Promise.all([
      this.store.approvals.rules(tenant, null),
      this.store.approvals.rules(tenant, sessionId),
    ]);
    const asRules = (rows: typeof keyRows): PermissionRules => {
      const out: PermissionRules = {};
      for (const r of rows) if (r.source === 'set') (out[r.outcome] ??= []).push(r.rule);
      return out;
    };
    const layers: RuleLayer[] = [
      { level: 'operator', rules: this.config.approvals.rules },
      { level: 'template', rules: templateRules ?? {} },
      { level: 'key', rules: asRules(keyRows) },
      { level: 'session', rules: asRules(sessionRows) },
      { level: 'request', rules: (turnId && this.requestRules.get(turnId)) || {} },
    ];
    const remembered: RememberedAnswer[] = [];
    for (const [level, rows] of [
      ['session', sessionRows],
      ['key', keyRows],
    ] as const) {
      for (const r of rows)
        if (r.source === 'remembered' && r.outcome !== 'ask')
          remembered.push({ level, outcome: r.outcome, rule: r.rule });
    }
    return { layers, remembered };
  }

  /** The `set` rules of a key (sessionId null) or a session, grouped by outcome. */
  async storedRules(
    tenant: string,
    sessionId: string | null,
  ): Promise<{ rules: PermissionRules; remembered: PermissionRules }> {
    const rows = await this.store.approvals.rules(tenant, sessionId);
    const rules: PermissionRules = {};
    const remembered: PermissionRules = {};
    for (const r of rows) ((r.source === 'set' ? rules : remembered)[r.outcome] ??= []).push(r.rule);
    return { rules, remembered };
  }

  /** Replaces the rules of a key or session (422 naming a bad rule; nothing is changed then). */
  async replaceRules(
    tenant: string,
    sessionId: string | null,
    rules: PermissionRules,
    by: string | null,
    pointer = '/permission_rules',
  ): Promise<void> {
    assertRules(rules, pointer);
    const rows = RULE_OUTCOMES.flatMap((outcome) => (rules[outcome] ?? []).map((rule) => ({ outcome, rule })));
    await this.store.approvals.replaceRules(tenant, sessionId, rows, by);
  }

  /**
   * Pauses a tool call for a person: stores it, emits its event on the turn (whose clock stops and whose turn slot is
   * released meanwhile) and resolves with the answer, or with a denial when APPROVAL_TIMEOUT_SECONDS pass or the call
   * is abandoned.
   */
  async pause(req: PauseRequest): Promise<PauseAnswer> {
    const now = Date.now();
    const row = await this.store.approvals.insert({
      id: `apr_${randomUUID().replace(/-/g, '')}`,
      tenant: req.tenant,
      session_id: req.sessionId,
      session_name: req.sessionName,
      turn_id: req.turn.id,
      job_id: this.jobOfTurn(req.turn.id) ?? null,
      kind: req.kind,
      tool: req.tool,
      tool_use_id: req.toolUseId ?? null,
      input: req.input,
      rule: req.rule ?? null,
      deadline: new Date(now + this.config.approvals.timeoutMs).toISOString(),
      created_at: new Date(now).toISOString(),
    });
    const answer = new Promise<PauseAnswer>((resolve) => {
      const timer = setTimeout(() => void this.expire(row, 'timeout'), this.config.approvals.timeoutMs);
      const onAbort = () => void this.expire(row, 'abandoned');
      req.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(row.id, {
        turn: req.turn,
        resolve: (a) => {
          clearTimeout(timer);
          req.signal?.removeEventListener('abort', onAbort);
          this.waiters.delete(row.id);
          resolve(a);
        },
      });
    });
    const event = eventOf(row);
    req.turn.emit(event);
    this.log.info({ session: req.sessionName, approval: row.id, tool: req.tool }, `${req.kind} waiting for a person`);
    if (req.signal?.aborted) void this.expire(row, 'abandoned');
    // However the turn ends (interrupt, killed process, deleted session), nothing may answer for it afterwards.
    const ended = () => {
      if (this.waiters.has(row.id)) void this.expire(row, 'abandoned');
    };
    req.turn.done.then(ended, ended);
    return req.turn.awaitPerson(answer, async () => {
      for (const fn of [...this.listeners]) {
        try {
          await fn(row, event);
        } catch (err) {
          this.log.warn({ err, approval: row.id }, 'pause listener failed');
        }
      }
    });
  }

  /** Pending approvals and questions: of a tenant (null = all, for admins), optionally of one session. */
  pending(tenant: string | null, sessionId?: string): Promise<ApprovalRow[]> {
    return this.store.approvals.pending(tenant, sessionId);
  }

  /**
   * A person's answer to a pending approval or question of this session: 404 when there is none with that id here, 409
   * when it was already answered or expired, 422 when the answer does not fit. Resumes the turn, stores a remembered
   * rule when asked, and writes the decision to the audit trail with the deciding key.
   */
  async answer(
    session: { id: string; owner: string; name: string },
    kind: ApprovalKind,
    id: string,
    input: AnswerInput,
    actor: Actor,
  ): Promise<ApprovalRow> {
    const row = await this.store.approvals.findById(id);
    if (!row || row.session_id !== session.id || row.kind !== kind)
      throw new ProblemError(404, 'not-found', 'Not found', `No ${kind} ${JSON.stringify(id)} in this session.`);
    if (row.status !== 'pending') throw alreadySettled(row);
    const answer = kind === 'question' ? questionAnswer(row, input) : approvalAnswer(row, input);
    const waiter = this.waiters.get(id);
    if (!waiter) {
      // Stored as pending but no turn here waits for it (it belonged to a server that stopped): it can only expire.
      const expired = await this.store.approvals.settle(id, 'expired', { reason: RESTART_REASON });
      throw alreadySettled(expired ?? row);
    }
    const status = kind === 'question' ? 'answered' : answer.decision === 'allow' ? 'allowed' : 'denied';
    const response: JsonObject = {
      ...(input.decision !== undefined && { decision: input.decision }),
      ...(input.message !== undefined && { message: input.message }),
      ...(input.updated_input !== undefined && { updated_input: input.updated_input }),
      ...(input.remember !== undefined && { remember: input.remember }),
      ...(answer.decision === 'allow' && answer.answers && { answers: answer.answers }),
    };
    const settled = await this.store.approvals.settle(id, status, { response, decidedBy: actor.keyId });
    if (!settled) throw alreadySettled((await this.store.approvals.findById(id)) ?? row);
    if (input.remember && kind === 'approval' && input.decision) {
      await this.store.approvals.addRule({
        tenant: session.owner,
        session_id: input.remember === 'session' ? session.id : null,
        outcome: input.decision,
        rule: ruleForCall(row.tool, row.input),
        source: 'remembered',
        created_by: actor.keyId,
      });
    }
    void auditTrailOf(this.store).record({
      key_id: actor.keyId,
      tenant: session.owner,
      action: `${kind}.decide`,
      resource: `sessions/${session.name}`,
      session: session.name,
      status: null,
      outcome: status,
      request_id: actor.requestId,
      ip: actor.ip,
      method: null,
      route: null,
      detail: {
        id,
        tool: row.tool,
        input: clippedInput(row.input),
        turn_id: row.turn_id,
        ...response,
      },
    });
    waiter.turn.emit(decisionOf(settled));
    waiter.resolve(answer);
    return settled;
  }

  /**
   * Every approval a stopped server left pending is marked expired (its turn died with it): at start-up on a single
   * node, or (with `sessionId`) when a node takes over a session whose owner died.
   */
  async expireLeftovers(sessionId?: string): Promise<ApprovalRow[]> {
    const rows = await this.store.approvals.expireAllPending(RESTART_REASON, sessionId);
    for (const row of rows) {
      void auditTrailOf(this.store).record({
        key_id: null,
        tenant: row.tenant,
        action: `${row.kind}.expire`,
        resource: `sessions/${row.session_name}`,
        session: row.session_name,
        status: null,
        outcome: 'expired',
        request_id: null,
        ip: null,
        method: null,
        route: null,
        detail: { id: row.id, tool: row.tool, turn_id: row.turn_id, reason: RESTART_REASON },
      });
    }
    return rows;
  }

  private async expire(row: ApprovalRow, why: 'timeout' | 'abandoned'): Promise<void> {
    const waiter = this.waiters.get(row.id);
    const seconds = this.config.approvals.timeoutMs / 1000;
    const reason =
      why === 'timeout'
        ? `Nobody answered within ${seconds} s (APPROVAL_TIMEOUT_SECONDS), so this ${row.tool} call was denied.`
        : 'The turn ended before anyone answered.';
    try {
      const settled = await this.store.approvals.settle(row.id, 'expired', { reason });
      if (settled) {
        this.log.info({ session: row.session_name, approval: row.id, why }, `${row.kind} expired without an answer`);
        // A turn that ended has no stream left to tell.
        waiter?.turn.emit(decisionOf(settled));
      }
    } catch (err) {
      this.log.error({ err, approval: row.id }, 'could not mark an approval expired');
    }
    waiter?.resolve({
      decision: 'deny',
      message: why === 'timeout' ? `${reason} Do not retry it; tell the user it needs an approval.` : reason,
    });
  }
}

/** 422 naming the first bad rule of a `permission_rules` object. */
export function assertRules(rules: PermissionRules | undefined, pointer = '/permission_rules'): void {
  const problems = checkRules(rules);
  if (problems.length === 0) return;
  throw new ProblemError(
    422,
    'invalid-permission-rule',
    'Invalid permission rule',
    problems.map((p) => p.message).join('; '),
    {
      errors: problems.map((p) => ({
        location: 'body',
        pointer: `${pointer}/${p.outcome}/${p.index}`,
        message: p.message,
      })),
    },
  );
}
