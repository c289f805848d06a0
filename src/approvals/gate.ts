// The permission gate of one Claude Code process: a PreToolUse hook that applies the rules and pauses `ask` calls for a person, and the canUseTool callback that turns AskUserQuestion into a question.
import type { CanUseTool, HookCallbackMatcher, HookEvent, HookJSONOutput } from '@anthropic-ai/claude-agent-sdk';
import type { ToolDecision } from '../engine/workspace-guard.js';
import type { Turn } from '../engine/turn.js';
import { decide } from './layered-rules.js';
import type { PermissionRules } from './rules.js';
import type { PauseAnswer } from './answers.js';
import type { ApprovalService } from './service.js';

export const QUESTION_TOOL = 'AskUserQuestion';
/** How much longer than APPROVAL_TIMEOUT_SECONDS Claude Code waits for the hook (the service's own time-out answers first). */
const HOOK_MARGIN_SECONDS = 60;

export interface GateOptions {
  tenant: string;
  sessionId: string;
  sessionName: string;
  /** Relative path rules are read against it (the session's working directory). */
  cwd: string;
  home?: string;
  templateRules?: PermissionRules;
  /** The turn the process is working on. */
  currentTurn: () => Turn | undefined;
  /** Another check that runs first (the workspace guard): a call it refuses is never put to a person. */
  precheck?: (tool: string, input: unknown, cwd?: string) => Promise<ToolDecision>;
  timeoutSeconds: number;
}

const deny = (reason: string): HookJSONOutput => ({
  hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: reason },
});

export class PermissionGate {
  constructor(
    private readonly approvals: ApprovalService,
    private readonly opts: GateOptions,
  ) {}

  /** The PreToolUse matcher on every tool; a failing hook blocks the call. */
  hooks(): Partial<Record<HookEvent, HookCallbackMatcher[]>> {
    return {
      PreToolUse: [
        {
          hooks: [
            async (input, toolUseId, { signal }) => {
              if (input.hook_event_name !== 'PreToolUse') return {};
              return this.onCall(input.tool_name, input.tool_input, input.cwd, toolUseId ?? input.tool_use_id, signal);
            },
          ],
          timeout: this.opts.timeoutSeconds + HOOK_MARGIN_SECONDS,
          onFailure: 'block',
        },
      ],
    };
  }

  /**
   * Claude Code asks this only for calls no allow-list settles: AskUserQuestion (always) becomes a question to a person;
   * anything else is refused, as it is without a callback.
   */
  readonly canUseTool: CanUseTool = async (tool, input, { signal, toolUseID }) => {
    if (tool !== QUESTION_TOOL)
      return { behavior: 'deny', message: "Claude Code's permission settings refused this call." };
    const answer = await this.pause('question', tool, input, toolUseID, undefined, signal);
    if (answer.decision === 'deny') return { behavior: 'deny', message: answer.message };
    return { behavior: 'allow', updatedInput: { ...input, answers: answer.answers ?? {} } };
  };

  private async onCall(
    tool: string,
    input: unknown,
    hookCwd: string | undefined,
    toolUseId: string | undefined,
    signal: AbortSignal,
  ): Promise<HookJSONOutput> {
    const turn = this.opts.currentTurn();
    const { layers, remembered } = await this.approvals.rulesFor(
      this.opts.tenant,
      this.opts.sessionId,
      this.opts.templateRules,
      turn?.id,
    );
    const verdict = decide(layers, remembered, { tool, input, cwd: this.opts.cwd, home: this.opts.home });
    if (verdict.outcome === 'deny') {
      const by = verdict.level === 'remembered' ? 'a remembered answer' : `the ${verdict.level} permission rule`;
      return deny(`Denied by ${by} ${verdict.rule}.`);
    }
    // Questions are asked through canUseTool; allow and unnamed calls follow Claude Code's own permission mode.
    if (verdict.outcome !== 'ask' || tool === QUESTION_TOOL) return {};
    if (this.opts.precheck && !(await this.opts.precheck(tool, input, hookCwd)).allow) return {}; // its own hook denies
    const answer = await this.pause('approval', tool, input, toolUseId, verdict.rule, signal);
    if (answer.decision === 'deny') return deny(answer.message);
    if (!answer.updatedInput) return {};
    // The changed input is checked as the original was: a person cannot send a file tool outside the workspace.
    const recheck = this.opts.precheck && (await this.opts.precheck(tool, answer.updatedInput, hookCwd));
    if (recheck && !recheck.allow) return deny(recheck.reason);
    return {
      hookSpecificOutput: {
        hookEventName: 'PreToolUse',
        permissionDecision: 'allow',
        updatedInput: answer.updatedInput,
      },
    };
  }

  private async pause(
    kind: 'approval' | 'question',
    tool: string,
    input: unknown,
    toolUseId: string | undefined,
    rule: string | undefined,
    signal: AbortSignal,
  ): Promise<PauseAnswer> {
    const turn = this.opts.currentTurn();
    if (!turn) return { decision: 'deny', message: 'No turn is running to ask a person in.' };
    return this.approvals.pause({
      kind,
      turn,
      tenant: this.opts.tenant,
      sessionId: this.opts.sessionId,
      sessionName: this.opts.sessionName,
      tool,
      input,
      ...(toolUseId !== undefined && { toolUseId }),
      ...(rule !== undefined && { rule }),
      signal,
    });
  }
}
