// Claude Code options of a turn: layers merged (request > session > template > environment), checked, and turned into SDK options.
import type { Options } from '@anthropic-ai/claude-agent-sdk';
import type { Config, EffortLevel, PermissionMode } from '../config/index.js';

/** Options a session, template or request may set. */
export interface SessionOptions {
  model?: string;
  effort?: EffortLevel;
  system_prompt?: string;
  max_turns?: number;
  allowed_tools?: string[];
  disallowed_tools?: string[];
  permission_mode?: PermissionMode;
}

export interface EffectiveOptions {
  model: string | undefined;
  effort: EffortLevel | undefined;
  systemPrompt: string | undefined;
  maxTurns: number;
  allowedTools: string[];
  disallowedTools: string[];
  permissionMode: PermissionMode;
}

export interface OptionProblem {
  field: string;
  message: string;
}

type ClaudeConfig = Config['claude'];

/** What the operator does not allow a client to choose; empty when all is well. */
export function checkOptions(cfg: ClaudeConfig, opts: SessionOptions, prefix = ''): OptionProblem[] {
  const problems: OptionProblem[] = [];
  if (opts.permission_mode !== undefined && !cfg.allowedPermissionModes.includes(opts.permission_mode)) {
    problems.push({
      field: `${prefix}permission_mode`,
      message: `permission mode ${opts.permission_mode} is not allowed here (allowed: ${cfg.allowedPermissionModes.join(', ')})`,
    });
  }
  for (const tool of opts.allowed_tools ?? []) {
    if (!cfg.allowedTools.includes(tool)) {
      problems.push({ field: `${prefix}allowed_tools`, message: `tool ${tool} is not in the operator's allowed tools (${cfg.allowedTools.join(', ')})` });
    }
  }
  return problems;
}

/** Merges layers, lowest priority first (template, session, request), over the environment's defaults. */
export function resolveOptions(cfg: ClaudeConfig, layers: ReadonlyArray<SessionOptions | undefined>): EffectiveOptions {
  const pick = <K extends keyof SessionOptions>(key: K): SessionOptions[K] | undefined => {
    let value: SessionOptions[K] | undefined;
    for (const layer of layers) if (layer?.[key] !== undefined) value = layer[key];
    return value;
  };
  const allowed = pick('allowed_tools') ?? cfg.allowedTools;
  const disallowed = new Set(cfg.disallowedTools);
  for (const layer of layers) for (const tool of layer?.disallowed_tools ?? []) disallowed.add(tool);
  return {
    model: pick('model') ?? cfg.model,
    effort: pick('effort') ?? cfg.effort,
    systemPrompt: pick('system_prompt') ?? cfg.systemPrompt,
    maxTurns: pick('max_turns') ?? cfg.maxTurns,
    allowedTools: allowed.filter((t) => cfg.allowedTools.includes(t) && !disallowed.has(t)),
    disallowedTools: [...disallowed],
    permissionMode: pick('permission_mode') ?? cfg.permissionMode,
  };
}

/** A key that changes whenever the process must be restarted to apply the options. */
export function optionsKey(opts: EffectiveOptions, cwd: string): string {
  return JSON.stringify([cwd, opts.model, opts.effort, opts.systemPrompt, opts.maxTurns, opts.allowedTools, opts.disallowedTools, opts.permissionMode]);
}

export function toSdkOptions(
  opts: EffectiveOptions,
  host: { cwd: string; cliPath: string | undefined; env: Record<string, string | undefined> },
): Options {
  const sdk: Options = {
    cwd: host.cwd,
    env: host.env,
    maxTurns: opts.maxTurns,
    tools: opts.allowedTools,
    allowedTools: opts.allowedTools,
    disallowedTools: opts.disallowedTools,
    permissionMode: opts.permissionMode,
    // Rendered fresh on every request (no snapshot), so a per-request or changed system prompt takes effect mid-conversation.
    systemPrompt: { type: 'preset', preset: 'claude_code', snapshot: false, ...(opts.systemPrompt ? { append: opts.systemPrompt } : {}) },
  };
  if (opts.permissionMode === 'bypassPermissions') sdk.allowDangerouslySkipPermissions = true;
  if (opts.model) sdk.model = opts.model;
  if (opts.effort) sdk.effort = opts.effort;
  if (host.cliPath) sdk.pathToClaudeCodeExecutable = host.cliPath;
  return sdk;
}
