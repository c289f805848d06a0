// The session rules: create/list/delete/repo, and chat turns tied to the engine and recorded in history and totals.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PermissionGate } from '../approvals/gate.js';
import type { PermissionRules } from '../approvals/rules.js';
import { assertRules, type ApprovalService } from '../approvals/service.js';
import type { Config } from '../config/index.js';
import type { Engine } from '../engine/engine.js';
import { checkOptions, optionsKey, resolveOptions, toSdkOptions, type SessionOptions } from '../engine/options.js';
import { HookRelay } from '../engine/hook-relay.js';
import type { RunnerLaunch } from '../engine/runner.js';
import type { SpareFactory } from '../engine/spares.js';
import { WorkspaceGuard } from '../engine/workspace-guard.js';
import { adoptSpareFolder, isEmptyFolder } from '../workspace/adopt.js';
import { Dir } from '../workspace/anchor.js';
import type { Turn } from '../engine/turn.js';
import { ProblemError, problemType } from '../problems.js';
import { refusedTemplateOption, templateOptions } from '../templates/operator-limits.js';
import type { TemplateLookup } from '../templates/registry.js';
import type { Actor } from '../security/audit.js';
import type { TurnSecurity } from '../security/turn-security.js';
import { DuplicateError } from '../store/errors.js';
import type { Store } from '../store/index.js';
import type { MessageRow, Page, SessionRow } from '../store/schema.js';
import { SessionFolders } from './folders.js';
import { auditTurnEnd, closeUnfinishedTurns, recordTurnEnd, recordTurnStart } from './turn-records.js';

export interface CreateSessionInput extends SessionOptions {
  name: string;
  working_dir?: string;
  /** A template's name: its options sit between the environment and the session's own (explicit > template > environment). */
  template?: string;
  /** The session's own permission rules (they add to the operator's, the template's and the key's). */
  permission_rules?: PermissionRules;
  /** The Python seed's `user_id`: a label inside the tenant (`default`, the seed's default, means none). */
  user_id?: string;
}

/** The seed's `user_id` as stored: none for its default, which stood for the caller. */
function userLabelOf(userId: string | undefined): string | null {
  return userId === undefined || userId === 'default' ? null : userId;
}

export interface ChatInput extends SessionOptions {
  message: string;
  /** Rules for this turn only (they add to every other level's). */
  permission_rules?: PermissionRules;
}

/** Who asks for a turn, beyond its tenant: the key (its spend, budget and fair share), and who the audit rows of its tool calls name. */
export interface ChatCaller {
  /** The key that acts (a job's: the key that queued it); null/undefined in open mode. */
  keyId?: string | null;
  /** null/undefined = CLAUDE_MAX_COST_PER_USER. */
  keyBudgetUsd?: number | null;
  /** The request that asked; none for background work (jobs). */
  actor?: Actor;
}

/** A submitted chat turn and the promise that settles once its outcome is in history and totals. */
export interface ChatTurn {
  turn: Turn;
  recorded: Promise<void>;
}

const OPTION_KEYS = [
  'model',
  'effort',
  'system_prompt',
  'max_turns',
  'allowed_tools',
  'disallowed_tools',
  'permission_mode',
  'max_budget_usd',
  'max_output_tokens',
  'output_format',
] as const;

export function pickOptions(input: SessionOptions): SessionOptions {
  const out: Record<string, unknown> = {};
  for (const key of OPTION_KEYS) if (input[key] !== undefined) out[key] = input[key];
  return out;
}

/**
 * Several nodes: who owns a session now (the cluster's leases). A turn notes its node's epoch when it starts, and every
 * write it makes as the owner is conditioned on it in SQL (the session row's `lease_epoch`, which each new owner
 * raises when it claims the lease): a node that lost the session meanwhile writes nothing over the new owner's state.
 */
export interface SessionFence {
  /** This node's epoch of the session's lease, if it holds it. */
  epochOf(sessionId: string): number | undefined;
  /** Whether this node still holds the session's lease at that epoch (Redis; a quick check before the SQL one). */
  stillOwner(sessionId: string, epoch: number): Promise<boolean>;
}

/** Which of a turn's writes a newer owner fenced out. */
export type FencedWrite = 'turn_start' | 'turn_end' | 'takeover';

export class SessionService {
  /** The sessions' workspaces and working directories, opened by anchor. */
  readonly folders: SessionFolders;
  /** Several nodes: the epoch a turn's writes are fenced on (none on a single node: nothing is conditioned). */
  fence: SessionFence | undefined;
  /** Hears each write a newer owner fenced out (the metrics). */
  onFenced: ((write: FencedWrite) => void) | undefined;

  constructor(
    private readonly config: Config,
    private readonly store: Store,
    private readonly engine: Engine,
    private readonly log: Logger,
    /** The environment Claude Code processes get (already stripped of the server's secrets). */
    private readonly cliEnv: Record<string, string | undefined>,
    /** The agent templates sessions may be created from (none: `template` is refused as unknown). */
    private readonly templates?: TemplateLookup,
    /** Moderation, budgets, the workspace guard and the Bash sandbox (the server always sets it). */
    readonly security?: TurnSecurity,
    /** Permission rules, approvals and questions (the server always sets it). */
    readonly approvals?: ApprovalService,
  ) {
    this.folders = new SessionFolders(config.approvedDirectory, store.sessions);
  }

  /** Refuses a text that matches a moderation rule (422 `moderation-blocked`); for jobs and other callers of `chat`. */
  moderate(text: string | undefined, pointer = '/message'): void {
    this.security?.moderate(text, pointer);
  }

  async create(tenant: string, input: CreateSessionInput): Promise<SessionRow> {
    const options = pickOptions(input);
    this.assertOptions(options);
    this.moderate(options.system_prompt, '/system_prompt');
    if (input.template !== undefined) this.templateLayer(input.template, [options], 422);
    assertRules(input.permission_rules);
    const workingDir =
      input.working_dir === undefined ? undefined : await this.folders.resolveWorkingDir(tenant, input.working_dir);
    if ((await this.store.sessions.countByOwner(tenant)) >= this.config.maxSessionsPerUser) {
      throw new ProblemError(
        409,
        'session-limit',
        'Session limit reached',
        `This API key already holds ${this.config.maxSessionsPerUser} sessions (MAX_SESSIONS_PER_USER); delete one first.`,
      );
    }
    if (await this.store.sessions.findByName(tenant, input.name)) throw this.duplicate(input.name);
    const workspace = await this.folders.create(tenant, input.name);
    const cwd = workingDir ?? workspace;
    try {
      const row = await this.store.sessions.create({
        id: randomUUID(),
        owner: tenant,
        name: input.name,
        workspace: workspace.path,
        workspace_dev: workspace.anchor.dev,
        workspace_ino: workspace.anchor.ino,
        working_dir: cwd.path,
        working_dir_dev: cwd.anchor.dev,
        working_dir_ino: cwd.anchor.ino,
        status: 'pending',
        claude_session_id: null,
        options: options as Record<string, unknown>,
        template: input.template ?? null,
        user_label: userLabelOf(input.user_id),
        last_active_at: null,
      });
      if (input.permission_rules) await this.approvals?.replaceRules(tenant, row.id, input.permission_rules, null);
      return row;
    } catch (err) {
      if (err instanceof DuplicateError) throw this.duplicate(input.name);
      throw err;
    }
  }

  /** One page of a tenant's sessions; `null` = every tenant's (admin). */
  /** A page of the tenant's sessions (every tenant's for null), only those of `userId` when given (the seed's filter). */
  list(tenant: string | null, offset: number, limit: number, userId?: string): Promise<Page<SessionRow>> {
    return this.store.sessions.list(tenant, { offset, limit }, userId);
  }

  /** A tenant's session by name, else (as the Python seed resolved it) by its Claude Code session id. */
  async get(tenant: string, name: string): Promise<SessionRow> {
    const row =
      (await this.store.sessions.findByName(tenant, name)) ??
      (await this.store.sessions.findByClaudeSessionId(tenant, name));
    if (!row) throw new ProblemError(404, 'not-found', 'Not found', `No session named ${JSON.stringify(name)}.`);
    return row;
  }

  /** Whether the session has a live Claude Code process, and whether a turn runs or waits. */
  liveness(id: string): { live: boolean; busy: boolean } {
    return { live: this.engine.isLive(id), busy: this.engine.currentTurn(id) !== undefined };
  }

  async remove(tenant: string, name: string, purge: boolean): Promise<void> {
    const row = await this.get(tenant, name);
    await this.engine.closeSession(row.id);
    await this.store.sessions.delete(row.id);
    await this.security?.forget(row.id);
    if (purge) await this.folders.remove(row);
  }

  async changeWorkingDir(tenant: string, name: string, candidate: string): Promise<SessionRow> {
    const row = await this.get(tenant, name);
    const dir = await this.folders.resolveWorkingDir(tenant, candidate, row.id);
    if (this.engine.currentTurn(row.id)) {
      throw new ProblemError(
        409,
        'session-busy',
        'Session is busy',
        'A turn is running on this session; change the working directory after it ends.',
      );
    }
    const updated = await this.store.sessions.update(row.id, {
      working_dir: dir.path,
      working_dir_dev: dir.anchor.dev,
      working_dir_ino: dir.anchor.ino,
    });
    await this.engine.restartSession(row.id);
    return updated ?? row;
  }

  /** Refuses (429) when the caller's key has already spent its limit; holds nothing (work queued for later checks again). */
  async assertCanSpend(tenant: string, caller: ChatCaller): Promise<void> {
    await this.security?.budgets.assertCanSpend({
      tenant,
      keyId: caller.keyId ?? null,
      keyBudgetUsd: caller.keyBudgetUsd,
    });
  }

  /**
   * Queues a chat turn: every way into a turn (sync chat, stream, jobs, MCP) passes here. The acting key's budget is
   * checked and the turn's cap held before it is queued; the turn runs within the key's fair share of turn slots and
   * live processes. History, totals and the spend ledger are written when it ends.
   */
  async chat(tenant: string, name: string, input: ChatInput, caller: ChatCaller = {}): Promise<ChatTurn> {
    const row = await this.get(tenant, name);
    const overrides = pickOptions(input);
    this.assertOptions(overrides);
    assertRules(input.permission_rules);
    this.moderate(input.message, '/message');
    this.moderate(input.system_prompt, '/system_prompt');
    const effective = this.effectiveOptions(row, overrides);
    const keyId = caller.keyId ?? null;
    const reservation = await this.security?.budgets.reserve(
      { tenant, keyId, keyBudgetUsd: caller.keyBudgetUsd },
      effective.maxBudgetUsd,
    );
    let turn: Turn;
    let epoch: number | undefined;
    /** The turn's question was fenced out: so is everything after it, already counted once. */
    let lostAtStart = false;
    try {
      turn = this.engine.submit({
        sessionId: row.id,
        owner: keyId ?? tenant,
        message: input.message,
        lastEventId: row.last_event_id,
        prepare: (opts) => this.launchFor(row.id, overrides, opts?.cold === true),
        onStart: async (t) => {
          // Several nodes and no lease held here (it was just lost): epoch 0 passes only a session no node ever claimed.
          epoch = this.fence ? (this.fence.epochOf(row.id) ?? 0) : undefined;
          if ((await recordTurnStart(this.store, row.id, t, epoch)) === 'fenced') {
            lostAtStart = true;
            // Another node took the session over since this node's claim: its process here must stop (as at a lost renewal).
            this.fencedOut('turn_start', row.id, t.id, epoch);
            void this.engine.restartSession(row.id);
          }
        },
        onEnd: async (t) => {
          const cost = (t.result ?? t.partial)?.cost_usd ?? 0;
          try {
            // The money was spent whoever records the turn: the ledger gets it even when the turn's end is fenced out.
            await reservation?.settle(cost, { sessionId: row.id, sessionName: row.name, turnId: t.id });
          } finally {
            // History is written even when the ledger could not be (the failure is logged by the engine). Redis tells
            // at once a node that lost the lease; the condition in SQL holds even if that answer is already stale.
            if (!lostAtStart) {
              if (await this.lostInRedis(row.id, epoch)) {
                this.fencedOut('turn_end', row.id, t.id, epoch, 'redis');
                await auditTurnEnd(this.store, row.id, t, caller.actor);
              } else if ((await recordTurnEnd(this.store, row.id, t, caller.actor, epoch)) === 'fenced')
                this.fencedOut('turn_end', row.id, t.id, epoch);
            }
          }
        },
      });
    } catch (err) {
      reservation?.release();
      throw err;
    }
    // A turn that never started (cancelled, no slot, shutdown) frees its hold without a ledger row.
    void turn.settled.finally(() => reservation?.release());
    this.approvals?.setRequestRules(turn, input.permission_rules);
    return { turn, recorded: turn.settled };
  }

  async history(tenant: string, name: string, offset: number, limit: number): Promise<Page<MessageRow>> {
    const row = await this.get(tenant, name);
    return this.store.messages.listBySession(row.id, { offset, limit });
  }

  /** The kept turn a client may re-attach to: the one after `lastEventId`, else the newest. */
  async turnFor(tenant: string, name: string, lastEventId: number | undefined): Promise<Turn | undefined> {
    const row = await this.get(tenant, name);
    if (lastEventId === undefined) return this.engine.latestTurn(row.id);
    return this.engine.turnAfterEvent(row.id, lastEventId);
  }

  /** Interrupts the turns a key runs on this node, on every session (its key was revoked); how many. */
  interruptTurnsOf(keyId: string): number {
    return this.engine.interruptOwnedBy(keyId);
  }

  async interrupt(tenant: string, name: string): Promise<boolean> {
    const row = await this.get(tenant, name);
    return this.engine.interruptAll(row.id) > 0;
  }

  /**
   * How warm spares are started here: a default session's options (no template, no options of its own) in a spare's
   * own wall, its hooks and permission callback relayed to the session that claims it. Undefined where the wall
   * cannot run (spares need it; see TurnSecurity.spareProcess).
   */
  spareFactory(): SpareFactory | undefined {
    const security = this.security;
    if (!security?.wall.active) return undefined;
    return async (spareId) => {
      const spare = await security.spareProcess(spareId, this.cliEnv);
      if (!spare) throw new Error('the wall cannot run here');
      try {
        const { policy } = spare;
        const profile = resolveOptions(this.config.claude, []);
        const guard = policy.hookOn ? policy.guard : undefined;
        // Only the layout of this gate's hooks is used: the relay refuses every call until a session claims the spare.
        const gate =
          this.approvals &&
          new PermissionGate(this.approvals, {
            tenant: '',
            sessionId: spareId,
            sessionName: spareId,
            cwd: spare.workspace,
            currentTurn: () => undefined,
            timeoutSeconds: this.config.approvals.timeoutMs / 1000,
          });
        const options = toSdkOptions(profile, {
          cwd: spare.workspace,
          cliPath: this.config.claude.cliPath,
          ...policy,
          guard,
          gate,
        });
        const relay = new HookRelay();
        options.hooks = relay.wrap(options.hooks);
        const ask = relay.canUseTool(options.canUseTool !== undefined);
        if (ask) options.canUseTool = ask;
        // The spare parks in a folder that is never a session's (inside its config folder, which its wall binds).
        options.cwd = join(spare.configDir, 'parking');
        await mkdir(options.cwd, { recursive: true, mode: 0o700 });
        if (!policy.wall) throw new Error('a spare needs the wall');
        return {
          options,
          relay,
          profile,
          wall: policy.wall,
          workspace: spare.workspace,
          configDir: spare.configDir,
          tmpDir: spare.tmpDir,
          discard: spare.discard,
        };
      } catch (err) {
        await spare.discard();
        throw err;
      }
    };
  }

  /**
   * A new session's first turn on a warm spare, when one is ready and its options match (engine/spares.ts): the
   * spare's workspace folder is moved onto the session's empty workspace (one rename, so the folder its wall binds
   * is the session's by inode, and the session's recorded anchor becomes that folder's), its config folder and proxy
   * token become the session's. Undefined: the turn starts cold as before.
   */
  private async claimSpare(
    row: SessionRow,
    effective: ReturnType<SessionService['effectiveOptions']>,
  ): Promise<RunnerLaunch | undefined> {
    const security = this.security;
    if (!security?.wall.active || this.engine.spares.target === 0 || row.claude_session_id !== null) return undefined;
    if (row.workspace_dev === null || row.workspace_ino === null) return undefined;
    const ownWorkingDir = row.working_dir !== row.workspace;
    if (!ownWorkingDir && !(await isEmptyFolder(row.workspace))) return undefined;
    const spare = this.engine.spares.take(row.id, { options: effective, template: row.template, ownWorkingDir });
    const setup = spare?.setup;
    if (!spare || !setup) return undefined;
    let adopted: SessionRow;
    try {
      const anchor = await adoptSpareFolder(this.config.approvedDirectory, setup.workspace, {
        path: row.workspace,
        anchor: { dev: row.workspace_dev, ino: row.workspace_ino },
      });
      adopted =
        (await this.store.sessions.update(row.id, {
          workspace_dev: anchor.dev,
          workspace_ino: anchor.ino,
          working_dir_dev: anchor.dev,
          working_dir_ino: anchor.ino,
          updated_at: row.updated_at,
        })) ?? row;
      await security.adoptSpare(spare.id, row.id);
    } catch (err) {
      this.log.warn({ err, session: row.id }, 'a warm spare could not be given to the session; its turn starts cold');
      await this.engine.spares.discard(spare);
      return undefined;
    }
    // Inside the spare's wall the workspace keeps the path it had there: the guard reads the model's paths against
    // it, and checks them on the session's folder opened by its (new) anchor.
    const inside = setup.workspace;
    const openInside = async () => {
      const dir = await this.folders.openWorkingDir(adopted);
      return new Dir(dir.handle, inside, inside);
    };
    const hookOn = !this.config.security.workspaceHookOff;
    const guard = hookOn
      ? new WorkspaceGuard({
          workingDir: inside,
          openRoot: openInside,
          home: setup.configDir,
          extraRoots: [setup.tmpDir],
        })
      : undefined;
    const gate = this.approvals && this.gateFor(adopted, inside, this.approvals, guard);
    const options = toSdkOptions(effective, {
      cwd: inside,
      cliPath: this.config.claude.cliPath,
      env: setup.options.env ?? {},
      guard,
      gate,
    });
    const refused = setup.relay.mismatch(options.hooks, options.canUseTool);
    if (refused) {
      this.log.warn(
        { session: row.id, reason: refused },
        'a warm spare cannot carry this session; its turn starts cold',
      );
      await this.engine.spares.discard(spare);
      return undefined;
    }
    return {
      options,
      guard,
      optionsKey: optionsKey(effective, adopted.working_dir),
      claudeSessionId: randomUUID(),
      resume: false,
      costBaseline: row.claude_cost_total,
      spare,
    };
  }

  /** A turn's launch: on a warm spare when one fits (never when `cold`: the spare it took refused it), else cold. */
  private async launchFor(sessionId: string, overrides: SessionOptions, cold = false): Promise<RunnerLaunch> {
    const first = await this.store.sessions.findById(sessionId);
    if (!first) throw new ProblemError(404, 'not-found', 'Not found', 'The session was deleted.');
    const warm = cold ? undefined : await this.claimSpare(first, this.effectiveOptions(first, overrides));
    if (warm) return warm;
    // Read again: a spare's folder may have become the workspace (new anchor) before the spare was let go.
    const row = (await this.store.sessions.findById(sessionId)) ?? first;
    const effective = this.effectiveOptions(row, overrides);
    // The working directory reopened by anchor: the process's cwd and the guard's root are its checked real path.
    const cwd = await this.folders.openWorkingDir(row);
    const workingDir = cwd.real;
    await cwd.close();
    // Read again: a row older than the anchors has them recorded now, and the guard must compare with them.
    const anchored = row.working_dir_ino === null ? ((await this.store.sessions.findById(sessionId)) ?? row) : row;
    const policy = await this.security?.processPolicy(
      row.id,
      workingDir,
      this.cliEnv,
      () => this.folders.openWorkingDir(anchored),
      row.claude_session_id ?? undefined,
    );
    const guard = policy?.hookOn ? policy.guard : undefined;
    const gate = this.approvals && this.gateFor(row, workingDir, this.approvals, guard);
    return {
      options: toSdkOptions(effective, {
        cwd: workingDir,
        cliPath: this.config.claude.cliPath,
        env: policy?.env ?? this.cliEnv,
        ...policy,
        guard,
        gate,
      }),
      guard,
      wall: policy?.wall,
      optionsKey: optionsKey(effective, workingDir),
      claudeSessionId: row.claude_session_id ?? randomUUID(),
      resume: row.claude_session_id !== null,
      costBaseline: row.claude_cost_total,
    };
  }

  /** The options a turn runs with: request > session > template > environment (refused with 409 when the template is gone). */
  private effectiveOptions(row: SessionRow, overrides: SessionOptions) {
    const session = row.options as SessionOptions;
    const template = row.template === null ? undefined : this.templateLayer(row.template, [session, overrides], 409);
    return resolveOptions(this.config.claude, [template, session, overrides]);
  }

  /** The permission gate of a session's process: rules of every level, approvals and questions for its turns. */
  private gateFor(
    row: SessionRow,
    workingDir: string,
    approvals: ApprovalService,
    guard: WorkspaceGuard | undefined,
  ): PermissionGate {
    const template = row.template === null ? undefined : this.templates?.get(row.template);
    return new PermissionGate(approvals, {
      tenant: row.owner,
      sessionId: row.id,
      sessionName: row.name,
      cwd: workingDir,
      home: this.cliEnv.HOME,
      templateRules: template?.profile.permission_rules,
      currentTurn: () => this.engine.runningTurn(row.id),
      precheck: guard && ((tool, input, cwd) => guard.check(tool, input, cwd)),
      timeoutSeconds: this.config.approvals.timeoutMs / 1000,
    });
  }

  /**
   * Closes the turns a previous run of the server left open (it stopped mid-turn): each gets an assistant message
   * with status `interrupted`, so history never shows a question without an outcome. Returns how many.
   */
  closeUnfinishedTurns(): Promise<number> {
    return closeUnfinishedTurns(this.store);
  }

  /** Whether Redis already tells that another node took the session since `epoch` (a turn's end is then not tried). */
  private async lostInRedis(sessionId: string, epoch: number | undefined): Promise<boolean> {
    if (!this.fence || epoch === undefined) return false;
    // Redis cannot be asked: the condition in SQL decides alone.
    return !(await this.fence.stillOwner(sessionId, epoch).catch(() => true));
  }

  private fencedOut(
    write: FencedWrite,
    sessionId: string,
    turnId: string | undefined,
    epoch: number | undefined,
    /** What told: the lease in Redis (before the write was tried), else the condition of the write in SQL. */
    by: 'redis' | 'sql' = 'sql',
  ): void {
    this.log.error(
      { session: sessionId, turn: turnId, epoch, write, by },
      write === 'takeover'
        ? 'a newer node took this session over before this one recorded its takeover: nothing is recorded here'
        : "another node took this session over while its turn ran here: the turn's records are left to it",
    );
    this.onFenced?.(write);
  }

  /**
   * A session this node took over (its lease, at `epoch`) from a node that died mid-turn: its unanswered turn is
   * recorded as interrupted and its event ids go on after `lastEventId` (the newest one the dead node published), so
   * replays never mix two turns, both fenced on `epoch`; its pending approvals expire.
   */
  async recoverMoved(sessionId: string, lastEventId: number, epoch: number): Promise<void> {
    // A turn of this node's own (it claimed the session a moment ago) is not the dead node's.
    const local = new Set<string | undefined>([
      this.engine.currentTurn(sessionId)?.id,
      this.engine.runningTurn(sessionId)?.id,
    ]);
    const open = (await this.store.messages.unanswered()).filter(
      (m) => m.session_id === sessionId && !local.has(m.turn_id),
    );
    const interrupted = open.map((user) => ({
      session_id: sessionId,
      turn_id: user.turn_id,
      role: 'assistant' as const,
      content: '',
      status: 'interrupted' as const,
      error: {
        type: problemType('node-lost'),
        title: 'Node lost',
        status: 503,
        detail: 'The node running this turn stopped before it ended; the session moved to another node.',
      },
    }));
    const outcome = await this.store.fenced.appendMessages(sessionId, interrupted, epoch, lastEventId);
    if (outcome === 'fenced') {
      this.fencedOut('takeover', sessionId, undefined, epoch);
      return;
    }
    // Its approvals and questions waited on the dead node's turn: nobody can answer them any more.
    await this.approvals?.expireLeftovers(sessionId);
  }

  /**
   * The options of a template as the lowest layer above the environment. Refused (with `status`: 422 on create, 409
   * later) when the template is not loaded, or when it sets an option the operator does not allow (permission mode,
   * model, max_turns) and no higher layer sets another.
   */
  private templateLayer(name: string, higher: SessionOptions[], status: 409 | 422): SessionOptions {
    const refuse = (slug: string, title: string, detail: string): never => {
      if (status === 409) throw new ProblemError(409, 'template-unavailable', 'Template unavailable', detail);
      throw new ProblemError(422, slug, title, detail, {
        errors: [{ location: 'body', pointer: '/template', message: detail }],
      });
    };
    const template = this.templates?.get(name);
    if (!template) {
      return refuse(
        'unknown-template',
        'Unknown template',
        status === 422
          ? `No template named ${JSON.stringify(name)}; GET /api/v1/templates lists them.`
          : `This session uses template ${JSON.stringify(name)}, which is no longer loaded; restore it and reload the templates, or create a new session.`,
      );
    }
    const options = templateOptions(template.profile);
    const refused = refusedTemplateOption(options, higher, this.config.claude);
    if (refused) refuse('validation-failed', 'Validation failed', `Template ${JSON.stringify(name)}: ${refused}.`);
    return options;
  }

  private assertOptions(options: SessionOptions): void {
    const problems = checkOptions(this.config.claude, options);
    if (problems.length > 0) {
      throw new ProblemError(422, 'validation-failed', 'Validation failed', problems.map((p) => p.message).join('; '), {
        errors: problems.map((p) => ({ location: 'body', pointer: `/${p.field}`, message: p.message })),
      });
    }
  }

  private duplicate(name: string): ProblemError {
    return new ProblemError(409, 'conflict', 'Conflict', `A session named ${JSON.stringify(name)} already exists.`);
  }
}
