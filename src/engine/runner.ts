// One live Claude Code process for one session, fed through streaming input; runs its turns one at a time.
import {
  query,
  type Options,
  type Query,
  type SDKMessage,
  type SDKResultMessage,
} from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from 'pino';
import { EngineError } from './errors.js';
import { InputChannel } from './input-channel.js';
import { processStart, type ProcessStart, type WallPlan } from './process-spawn.js';
import type { Spare } from './spares.js';
import type { ToolDenial, WorkspaceGuard } from './workspace-guard.js';
import type { ExitReason, ExitListener, MemoryCeiling } from './supervisor.js';
import type { InterruptReason, Turn } from './turn.js';
import { activeTurn, recordMessage, resultOf, settleTurn, stalledError, type ActiveTurn } from './turn-messages.js';
import type { ChildProcess } from 'node:child_process';

/** How long an interrupted turn may take to end before its process is killed. */
const INTERRUPT_GRACE_MS = 10_000;
const STDERR_LINES = 20;

export interface RunnerLaunch {
  /** SDK options of the process (cwd, model, tools, env …) without prompt/resume bookkeeping. */
  options: Options;
  /** Identity of the options that need a new process when they change. */
  optionsKey: string;
  /** Claude session id to resume, or the id a new conversation gets. */
  claudeSessionId: string;
  resume: boolean;
  /** Cumulative cost the CLI last reported for this Claude session (a resumed process starts from it). */
  costBaseline: number;
  /** The workspace guard whose hook is in `options.hooks`: its denials are recorded on the running turn. */
  guard?: WorkspaceGuard;
  /** The wall the process starts in (undefined: a plain child process). */
  wall?: WallPlan;
  /**
   * A warm spare taken for this new session's first turn (see spares.ts): its process, already started in its own
   * wall, is claimed instead of starting one; `wall` is then unused. `options` still give the hooks it relays to.
   */
  spare?: Spare;
}

export type RunnerState = 'idle' | 'busy' | 'closed';

/**
 * How `run` left the turn: it ran (the turn's own promise carries the outcome), or the warm spare this process was
 * refused the claim, so nothing ran and the turn is untouched (not failed, no event): the caller runs it elsewhere.
 */
export type RunOutcome = 'ran' | 'spare_refused';

/** How long a spare's process that ended mid-turn is given to say whether it had refused the claim (see readLoop). */
const CLAIM_ANSWER_GRACE_MS = 2_000;

/** What watches a process: the memory ceiling (CLI_MAX_RSS_MB) and who hears how it ended. */
export interface Supervision {
  ceiling: MemoryCeiling;
  onExit: ExitListener;
}

/** The limits a turn runs under: its own time (CLAUDE_TIMEOUT_SECONDS) and the longest silence (TURN_STALL_SECONDS, 0: none). */
export interface TurnLimits {
  timeoutMs: number;
  stallMs: number;
}

export class SessionRunner {
  state: RunnerState = 'idle';
  lastUsedAt = Date.now();
  readonly optionsKey: string;
  claudeSessionId: string;
  /** Cumulative cost reported by the process's latest result. */
  claudeCostTotal: number;
  /** The SDK budget (maxBudgetUsd) the process was started with; it counts everything the process spends. */
  readonly budgetUsd: number | undefined;
  /** What this process has spent since it started, USD. */
  spentUsd = 0;
  /** Settles when the process has exited and the reader loop ended. */
  readonly exited: Promise<void>;

  private readonly input = new InputChannel();
  private readonly query: Query;
  private readonly stderrTail: string[] = [];
  private active: ActiveTurn | undefined;
  private init: { model: string; tools: string[]; cwd: string; permissionMode: string } | undefined;
  private costSeen: number | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private stallLimitMs = 0;
  private readonly start: ProcessStart;
  /** Why the wall ended the process, when it did. */
  private killedBecause: string | undefined;
  /** Why the process is ending, once the engine knows (unset when it exits on its own). */
  private endReason: ExitReason | undefined;
  /** The resident memory that put the process past CLI_MAX_RSS_MB, bytes. */
  private overMemoryBytes: number | undefined;
  private spawnedChild = false;
  private reported = false;
  /** This process is a claimed warm spare; `claimRefusal` is why the spare refused the claim, once it did. */
  private fromSpare = false;
  private claimRefusal: string | undefined;
  /** Settles once the spare has answered the claim (either way); unset for a cold process. */
  private claimAnswered: Promise<void> | undefined;
  /** Why the spare refused the running turn's claim, once it is handed back (see `refuseTurn`). */
  private refusedBecause: string | undefined;
  /** Settles when the spare hands its first turn back; only the first run watches it (a claim is answered once). */
  private refusal: Promise<'spare_refused'> | undefined;
  private handBack: () => void = () => undefined;

  constructor(
    readonly sessionId: string,
    launch: RunnerLaunch,
    private readonly log: Logger,
    private readonly supervision?: Supervision,
  ) {
    this.optionsKey = launch.optionsKey;
    this.claudeSessionId = launch.claudeSessionId;
    this.claudeCostTotal = launch.costBaseline;
    this.budgetUsd = launch.options.maxBudgetUsd;
    launch.guard?.onDenial((d) => this.onDenial(d));
    const killed = (reason: string) => {
      this.killedBecause = reason;
      this.endReason ??= 'wall_memory';
      this.log.warn({ session: this.sessionId }, `ending the session's wall: ${reason}`);
    };
    const spare = launch.spare;
    if (spare?.process && spare.start && spare.setup) {
      // The spare's process becomes this session's: its output, hooks and exit are this runner's from here on.
      this.start = spare.start;
      spare.handTo({ stderr: (data) => this.onStderr(data), killed });
      spare.setup.relay.bind(launch.options.hooks, launch.options.canUseTool);
      if (spare.child) this.supervise(spare.child);
      this.query = spare.process.claim({
        prompt: this.input,
        options: { cwd: spare.setup.workspace, permissionMode: launch.options.permissionMode },
      });
      this.fromSpare = true;
      this.refusal = new Promise((resolve) => (this.handBack = () => resolve('spare_refused')));
      // Settles once the claim is answered, with `claimRefusal` set by then when it was refused.
      this.claimAnswered = spare.process.claimed.then(
        () => undefined,
        (err: unknown) => {
          const reason = err instanceof Error ? err.message : String(err);
          // option_not_applied: the session runs, only without that option (the spare was started with the same ones).
          if (reason.startsWith('option_not_applied')) return;
          this.log.warn({ session: this.sessionId, reason }, 'the warm spare refused the claim');
          this.claimRefusal = reason;
          this.killedBecause ??= `the warm spare refused the claim (${reason})`;
        },
      );
    } else {
      this.start = processStart(
        launch.wall,
        (data) => this.onStderr(data),
        killed,
        (child) => this.supervise(child),
      );
      const options: Options = {
        ...launch.options,
        includePartialMessages: true,
        ...this.start.options,
        ...(launch.resume ? { resume: launch.claudeSessionId } : { sessionId: launch.claudeSessionId }),
      };
      this.query = query({ prompt: this.input, options });
    }
    this.exited = this.readLoop().finally(() => {
      this.start.release();
      if (!this.spawnedChild) this.report('failed_start', null, null);
    });
  }

  /**
   * Whether a turn with this cost limit may run on this process. The SDK's maxBudgetUsd counts from the process's
   * start, so a limited turn needs a process whose remaining budget is exactly its limit: a fresh one, in practice.
   */
  fitsBudget(limitUsd: number | undefined): boolean {
    if (limitUsd === undefined || this.budgetUsd === undefined) return limitUsd === this.budgetUsd;
    return Math.abs(this.budgetUsd - this.spentUsd - limitUsd) < 1e-9;
  }

  /** Why the warm spare refused the claim of the turn it handed back (`run` answered 'spare_refused'). */
  get spareRefusal(): string | undefined {
    return this.refusedBecause;
  }

  /**
   * Runs one turn to its end; the turn's own promise carries the outcome. 'spare_refused': this process was a warm
   * spare that refused the claim before anything ran; the turn is left as it was, for the caller to run elsewhere.
   */
  async run(turn: Turn, limits: TurnLimits): Promise<RunOutcome> {
    if (this.state === 'closed') {
      turn.fail(this.memoryError() ?? new EngineError('process_failed', 'The Claude Code process had already exited.'));
      return 'ran';
    }
    this.state = 'busy';
    turn.claudeCostTotal = this.claudeCostTotal;
    this.active = activeTurn(turn);
    this.sendSessionEvent();
    turn.interruptHandler = (reason) => this.interrupt(reason);
    // Time spent waiting for a person (approvals, questions) does not count against the turn's limit.
    const stopClock = turn.startClock(limits.timeoutMs, () => turn.interrupt('timeout'));
    this.watchStall(turn, limits.stallMs);
    try {
      this.input.push(turn.message);
      if (turn.interruptRequested) this.interrupt(turn.interruptRequested);
      const ran = turn.done.then(
        () => 'ran' as const,
        () => 'ran' as const,
      );
      const refusal = this.refusal;
      this.refusal = undefined;
      return await (refusal ? Promise.race([ran, refusal]) : ran);
    } finally {
      stopClock();
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
      if (this.killTimer) clearTimeout(this.killTimer);
      this.killTimer = undefined;
      this.active = undefined;
      this.lastUsedAt = Date.now();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- close() may have run while the turn was awaited
      if (this.state === 'busy') this.state = 'idle';
      // What the timed-out or stalled turn started (tools' children, background commands) ends with its process; the next turn resumes.
      if (turn.interruptRequested === 'timeout' || turn.interruptRequested === 'stalled')
        void this.close(turn.interruptRequested);
    }
  }

  /** Ends the process: closes its input, then terminates it, and waits for it to go. */
  async close(reason: ExitReason = 'closed'): Promise<void> {
    this.endReason ??= reason;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.input.close();
      this.query.close();
    }
    await this.exited;
  }

  /**
   * The stall watchdog: a turn whose process sends nothing for `stallMs` is interrupted (then killed after the grace).
   * Every message of the process re-arms it; while the turn waits for a person, silence is expected and it re-arms.
   */
  private watchStall(turn: Turn, stallMs: number): void {
    if (stallMs <= 0) return;
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      if (turn.finished || this.active?.turn !== turn) return;
      if (turn.waiting) {
        this.watchStall(turn, stallMs);
        return;
      }
      this.log.warn({ session: this.sessionId, stallMs }, 'turn stalled: no event from Claude Code');
      turn.interrupt('stalled');
    }, stallMs);
    this.stallLimitMs = stallMs;
  }

  /** Watches the started process: its memory against CLI_MAX_RSS_MB, and how it exits. */
  private supervise(child: ChildProcess): void {
    this.spawnedChild = true;
    const unwatch =
      child.pid === undefined || !this.supervision
        ? () => undefined
        : this.supervision.ceiling.watch(child.pid, (bytes) => this.onOverMemory(bytes));
    child.once('exit', (code, signal) => {
      unwatch();
      // A process that exits before it said hello (init) never started.
      this.report(this.endReason ?? (this.init ? 'crashed' : 'failed_start'), code, signal);
    });
    child.once('error', () => {
      if (child.pid !== undefined) return;
      unwatch();
      this.report('failed_start', null, null);
    });
  }

  /** Past CLI_MAX_RSS_MB: an idle process is recycled (the next turn resumes), a busy one ends with its turn. */
  private onOverMemory(bytes: number): void {
    if (this.state === 'closed') return;
    this.overMemoryBytes = bytes;
    const mib = Math.round(bytes / 1024 / 1024);
    this.log.warn(
      { session: this.sessionId, mib, busy: this.state === 'busy' },
      'process past CLI_MAX_RSS_MB; ending it',
    );
    void this.close('memory');
  }

  /** The problem of a turn whose process passed CLI_MAX_RSS_MB (undefined when it did not). */
  private memoryError(): EngineError | undefined {
    if (this.overMemoryBytes === undefined) return undefined;
    const mib = Math.round(this.overMemoryBytes / 1024 / 1024);
    return new EngineError(
      'memory_exceeded',
      `Claude Code used ${mib} MiB, past the limit of each process (CLI_MAX_RSS_MB), so it was ended. The next turn starts a new process and resumes the conversation.`,
    );
  }

  private report(reason: ExitReason, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.reported) return;
    this.reported = true;
    const stderrTail = this.stderrTailText();
    const exit = { sessionId: this.sessionId, reason, code, signal, stderrTail };
    if (reason === 'crashed' || reason === 'failed_start') this.log.warn(exit, 'Claude Code process ended');
    else this.log.debug(exit, 'Claude Code process ended');
    this.supervision?.onExit(exit);
  }

  private stderrTailText(): string {
    return this.stderrTail.join('').trim().split('\n').slice(-STDERR_LINES).join('\n');
  }

  private interrupt(reason: InterruptReason): void {
    this.log.info({ session: this.sessionId, reason }, 'interrupting turn');
    this.query.interrupt().catch((err: unknown) => this.log.warn({ err, session: this.sessionId }, 'interrupt failed'));
    this.killTimer ??= setTimeout(() => {
      this.log.warn({ session: this.sessionId }, 'turn did not end after interrupt; killing its process');
      void this.close(reason === 'client' ? 'closed' : reason);
    }, INTERRUPT_GRACE_MS);
  }

  private async readLoop(): Promise<void> {
    let failure: unknown;
    try {
      for await (const message of this.query) this.onMessage(message);
    } catch (err) {
      failure = err;
    }
    const wasClosing = this.state === 'closed';
    this.state = 'closed';
    this.input.close();
    // A spare that ended before answering its claim (killed, or it died): whether it refused says nothing ran.
    if (this.claimAnswered && this.active && !this.active.turn.finished && this.claimRefusal === undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.claimAnswered,
        new Promise((resolve) => (timer = setTimeout(resolve, CLAIM_ANSWER_GRACE_MS))),
      ]);
      clearTimeout(timer);
    }
    const turn = this.active?.turn;
    if (turn && !turn.finished && this.claimRefusal !== undefined && this.handsBack(turn)) {
      this.refuseTurn(this.claimRefusal);
    } else if (turn && !turn.finished) {
      if (turn.interruptRequested === 'timeout') {
        turn.fail(new EngineError('timeout', 'The turn ran past the time limit and was stopped.'));
      } else if (turn.interruptRequested === 'stalled') {
        turn.fail(stalledError(this.stallLimitMs));
      } else if (this.overMemoryBytes !== undefined) {
        turn.fail(this.memoryError()!);
      } else if (wasClosing && turn.interruptRequested) {
        turn.fail(new EngineError('interrupted', 'The turn was interrupted.'));
      } else {
        const detail =
          this.killedBecause ?? (failure instanceof Error ? failure.message : 'the process exited during the turn');
        const tail = this.stderrTailText();
        this.log.error({ session: this.sessionId, err: failure, stderr: tail }, 'Claude Code process failed');
        turn.fail(new EngineError('process_failed', `Claude Code stopped unexpectedly: ${detail}`));
      }
    } else if (failure && !wasClosing) {
      this.log.warn({ session: this.sessionId, err: failure }, 'idle Claude Code process ended');
    }
  }

  private onStderr(data: string): void {
    this.stderrTail.push(data);
    if (this.stderrTail.length > STDERR_LINES) this.stderrTail.shift();
  }

  private sendSessionEvent(): void {
    const a = this.active;
    if (!a || a.sessionSent || !this.init) return;
    a.sessionSent = true;
    a.turn.emit({
      type: 'session',
      session_id: this.claudeSessionId,
      model: this.init.model,
      tools: this.init.tools,
      cwd: this.init.cwd,
      permission_mode: this.init.permissionMode,
    });
  }

  private onMessage(m: SDKMessage): void {
    if (this.active && this.stallTimer) this.watchStall(this.active.turn, this.stallLimitMs);
    if (m.type === 'system' && m.subtype === 'init') {
      this.init = { model: m.model, tools: m.tools, cwd: m.cwd, permissionMode: m.permissionMode };
      this.claudeSessionId = m.session_id;
      this.sendSessionEvent();
      return;
    }
    const a = this.active;
    if (!a) return; // output between turns (e.g. suggestions) belongs to no one
    if (m.type === 'result') this.onResult(a, m);
    else recordMessage(a, m);
  }

  /** Whether a turn whose claim the spare refused goes back to the caller: not when it was asked to stop meanwhile. */
  private handsBack(turn: Turn): boolean {
    return this.fromSpare && turn.interruptRequested === undefined && this.overMemoryBytes === undefined;
  }

  /** The spare refused the running turn's claim: the turn leaves this process untouched, and `run` says so. */
  private refuseTurn(reason: string): void {
    if (this.refusedBecause !== undefined) return;
    this.refusedBecause = reason;
    this.active = undefined;
    this.handBack();
  }

  /** A refusal of the workspace guard during the running turn. */
  private onDenial(d: ToolDenial): void {
    const a = this.active;
    if (!a || (d.tool_use_id !== undefined && a.denials.some((x) => x.tool_use_id === d.tool_use_id))) return;
    a.denials.push(d);
    this.log.info({ session: this.sessionId, tool: d.tool }, 'tool call denied by the workspace policy');
  }

  private onResult(a: ActiveTurn, m: SDKResultMessage): void {
    const text = m.subtype === 'success' ? m.result : m.errors.join('; ');
    if (this.fromSpare && m.is_error && (this.claimRefusal !== undefined || text.startsWith('not_claimed'))) {
      // Nothing ran: no result, and no conversation id to record. The turn goes back to the engine, which runs it
      // cold; one asked to stop meanwhile (client, time limit, memory) ends as such when the process has gone.
      if (this.handsBack(a.turn)) this.refuseTurn(this.claimRefusal ?? text);
      void this.close('failed_start');
      return;
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- an error result may come without a cost
    const total = m.total_cost_usd ?? 0;
    let base = this.costSeen ?? this.claudeCostTotal;
    if (total < base) base = 0; // the process did not restore the transcript's running total
    this.costSeen = total;
    this.claudeCostTotal = total;
    this.spentUsd += Math.max(0, total - base);
    const result = resultOf(a, m, {
      sessionId: m.session_id || this.claudeSessionId,
      costUsd: Math.max(0, total - base),
      model: a.model ?? this.init?.model ?? null,
    });
    const turn = a.turn;
    turn.partial = result;
    turn.claudeCostTotal = total;
    settleTurn(turn, m, result, a.apiError, this.stallLimitMs);
  }
}
