// Hooks and the tool-permission callback of a warm spare: fixed when the spare starts, they pass each call to the session that claims it (and refuse every call before one does).
import type { CanUseTool, HookCallbackMatcher, HookEvent, HookJSONOutput } from '@anthropic-ai/claude-agent-sdk';

type HookMap = Partial<Record<HookEvent, HookCallbackMatcher[]>>;

const UNBOUND = 'This Claude Code process belongs to no session yet.';

/** The layout of a hook map (events, matchers, timeouts, how many callbacks): what must be equal for a relay to carry it. */
function hookLayout(hooks: HookMap | undefined): string {
  const events = Object.entries(hooks ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify(
    events.map(([event, matchers]) => [
      event,
      matchers.map((m) => [m.matcher ?? null, m.timeout ?? null, m.onFailure ?? null, m.hooks.length]),
    ]),
  );
}

export class HookRelay {
  private target: HookMap | undefined;
  private targetCanUseTool: CanUseTool | undefined;
  private layout = '';
  private asks = false;

  /**
   * The relay's own hooks, laid out as `example` (the hooks a default session's process gets): each callback calls
   * the claiming session's callback in the same place, and refuses while no session has claimed the spare.
   */
  wrap(example: HookMap | undefined): HookMap | undefined {
    this.layout = hookLayout(example);
    if (!example) return undefined;
    const out: HookMap = {};
    for (const [event, matchers] of Object.entries(example) as Array<[HookEvent, HookCallbackMatcher[]]>) {
      out[event] = matchers.map((m, i) => ({
        ...m,
        hooks: m.hooks.map((_, j) => async (input, toolUseId, opts): Promise<HookJSONOutput> => {
          const hook = this.target?.[event]?.[i]?.hooks[j];
          if (!hook) return refusal(event);
          return hook(input, toolUseId, opts);
        }),
      }));
    }
    return out;
  }

  /** The relay's permission callback (set when a default session's process has one). */
  canUseTool(present: boolean): CanUseTool | undefined {
    this.asks = present;
    if (!present) return undefined;
    return (tool, input, opts) => {
      const target = this.targetCanUseTool;
      if (!target) return Promise.resolve({ behavior: 'deny', message: UNBOUND });
      return target(tool, input, opts);
    };
  }

  /** Why a session's hooks cannot ride on this relay (another layout), or undefined when they can. */
  mismatch(hooks: HookMap | undefined, canUseTool: CanUseTool | undefined): string | undefined {
    if (hookLayout(hooks) !== this.layout) return 'its hooks are laid out differently';
    if ((canUseTool !== undefined) !== this.asks) return 'it answers tool permissions differently';
    return undefined;
  }

  /** From now on every call goes to these (the claiming session's hooks and callback). */
  bind(hooks: HookMap | undefined, canUseTool: CanUseTool | undefined): void {
    this.target = hooks;
    this.targetCanUseTool = canUseTool;
  }
}

function refusal(event: HookEvent): HookJSONOutput {
  if (event !== 'PreToolUse') return { continue: false, stopReason: UNBOUND };
  return {
    hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision: 'deny', permissionDecisionReason: UNBOUND },
  };
}
