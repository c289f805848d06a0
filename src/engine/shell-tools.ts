// The shell tools (Bash and its helpers): contained by the OS sandbox, not path-checked; refused with a reason where the sandbox cannot start.

/** Tools that run commands: contained by the OS sandbox, not path-checked by the workspace guard. */
export const SHELL_TOOLS = new Set(['Bash', 'BashOutput', 'KillShell', 'KillBash']);

export type ToolDecision = { allow: true } | { allow: false; reason: string };

/** The decision on a shell tool call: allowed (sandboxed), or refused with `refusal` when the sandbox cannot start. */
export function shellDecision(refusal: string | undefined): ToolDecision {
  return refusal ? { allow: false, reason: refusal } : { allow: true };
}
