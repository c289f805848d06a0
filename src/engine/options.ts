// Claude Code options of a turn: layers merged (request > session > template > environment), checked, and turned into SDK options.
import type {
  CanUseTool,
  HookCallbackMatcher,
  HookEvent,
  Options,
  OutputFormat,
  SandboxSettings,
  SettingSource,
} from '@anthropic-ai/claude-agent-sdk';
import { Ajv } from 'ajv';
import type { Config, EffortLevel, PermissionMode } from '../config/index.js';
import { SHELL_TOOLS } from './shell-tools.js';
import type { WorkspaceGuard } from './workspace-guard.js';

/** The tool through which Claude Code returns structured output (SDK outputFormat). */
export const STRUCTURED_OUTPUT_TOOL = 'StructuredOutput';

/** The longest output_format schema, as JSON: Claude Code takes it as one command-line argument. */
export const MAX_OUTPUT_SCHEMA_CHARS = 65_536;

const metaSchemas = new Ajv({ strict: false, validateSchema: false });

/**
 * Why Claude Code could not take this output schema, if it could not: too long for its command line, or not a JSON
 * Schema (checked against the draft-07 meta-schema; a schema naming another draft in `$schema` is left to Claude Code).
 */
function outputSchemaProblem(schema: Record<string, unknown>): string | undefined {
  if (JSON.stringify(schema).length > MAX_OUTPUT_SCHEMA_CHARS)
    return `the output_format schema may be at most ${MAX_OUTPUT_SCHEMA_CHARS} characters as JSON (it travels on Claude Code's command line)`;
  let valid: boolean;
  try {
    valid = metaSchemas.validateSchema(schema) as boolean;
  } catch {
    return undefined;
  }
  return valid ? undefined : `the output_format schema is not a JSON Schema: ${metaSchemas.errorsText()}`;
}

/** Options a session, template or request may set. */
export interface SessionOptions {
  model?: string;
  effort?: EffortLevel;
  system_prompt?: string;
  max_turns?: number;
  allowed_tools?: string[];
  disallowed_tools?: string[];
  permission_mode?: PermissionMode;
  /** The most one turn may spend, USD (at most CLAUDE_MAX_COST_PER_REQUEST). */
  max_budget_usd?: number;
  /** The most output tokens of each model call of a turn (CLAUDE_CODE_MAX_OUTPUT_TOKENS); the CLI's default when unset. */
  max_output_tokens?: number;
  /** Structured output: the answer as data matching this JSON schema (the SDK's outputFormat, the seed's output_format). */
  output_format?: OutputFormat;
}

export interface EffectiveOptions {
  model: string | undefined;
  effort: EffortLevel | undefined;
  systemPrompt: string | undefined;
  maxTurns: number;
  allowedTools: string[];
  disallowedTools: string[];
  permissionMode: PermissionMode;
  /** The turn's cost limit (SDK maxBudgetUsd), USD; undefined = none. */
  maxBudgetUsd: number | undefined;
  /** Output tokens per model call; undefined = the CLI's default. */
  maxOutputTokens: number | undefined;
  /** The JSON schema the answer must match; undefined = a text answer. */
  outputFormat: OutputFormat | undefined;
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
  if (opts.max_turns !== undefined && opts.max_turns > cfg.maxTurnsLimit) {
    problems.push({
      field: `${prefix}max_turns`,
      message: `max_turns may be at most ${cfg.maxTurnsLimit} (CLAUDE_MAX_TURNS_LIMIT)`,
    });
  }
  if (opts.model !== undefined && cfg.allowedModels.length > 0 && !cfg.allowedModels.includes(opts.model)) {
    problems.push({
      field: `${prefix}model`,
      message: `model ${opts.model} is not allowed here (allowed: ${cfg.allowedModels.join(', ')})`,
    });
  }
  if (
    opts.max_budget_usd !== undefined &&
    cfg.maxCostPerRequest !== undefined &&
    opts.max_budget_usd > cfg.maxCostPerRequest
  ) {
    problems.push({
      field: `${prefix}max_budget_usd`,
      message: `max_budget_usd may be at most ${cfg.maxCostPerRequest} (CLAUDE_MAX_COST_PER_REQUEST)`,
    });
  }
  if (opts.output_format !== undefined) {
    const problem = outputSchemaProblem(opts.output_format.schema);
    if (problem !== undefined) problems.push({ field: `${prefix}output_format`, message: problem });
  }
  for (const tool of opts.allowed_tools ?? []) {
    if (!cfg.allowedTools.includes(tool)) {
      problems.push({
        field: `${prefix}allowed_tools`,
        message: `tool ${tool} is not in the operator's allowed tools (${cfg.allowedTools.join(', ')})`,
      });
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
    maxBudgetUsd: pick('max_budget_usd') ?? cfg.maxCostPerRequest,
    maxOutputTokens: pick('max_output_tokens'),
    outputFormat: pick('output_format'),
  };
}

/** A key that changes whenever the process must be restarted to apply the options. */
export function optionsKey(opts: EffectiveOptions, cwd: string): string {
  return JSON.stringify([
    cwd,
    opts.model,
    opts.effort,
    opts.systemPrompt,
    opts.maxTurns,
    opts.allowedTools,
    opts.disallowedTools,
    opts.permissionMode,
    opts.maxOutputTokens,
    opts.outputFormat,
  ]);
}

export function toSdkOptions(
  opts: EffectiveOptions,
  host: {
    cwd: string;
    cliPath: string | undefined;
    env: Record<string, string | undefined>;
    /** The workspace guard: its PreToolUse hook checks every tool call. */
    guard?: WorkspaceGuard;
    /** The OS sandbox for Bash (undefined: none). */
    sandbox?: SandboxSettings;
    /** Bash and its helpers are taken away (the sandbox cannot start here). */
    refuseShell?: boolean;
    /** Which settings files Claude Code reads (undefined: all, the CLI's default). */
    settingSources?: SettingSource[];
    /** The permission gate (rules, approvals, questions): its hook runs beside the guard's. */
    gate?: {
      hooks(): Partial<Record<HookEvent, HookCallbackMatcher[]>>;
      canUseTool: CanUseTool;
    };
  },
): Options {
  const usable = host.refuseShell ? opts.allowedTools.filter((t) => !SHELL_TOOLS.has(t)) : opts.allowedTools;
  // Structured output is a tool Claude Code adds to end the turn with the data; it touches nothing, so it is offered
  // whenever an output format is asked for.
  const offered = opts.outputFormat ? [...usable, STRUCTURED_OUTPUT_TOOL] : usable;
  const removed = host.refuseShell ? [...new Set([...opts.disallowedTools, ...SHELL_TOOLS])] : opts.disallowedTools;
  const sdk: Options = {
    cwd: host.cwd,
    env:
      opts.maxOutputTokens === undefined
        ? host.env
        : { ...host.env, CLAUDE_CODE_MAX_OUTPUT_TOKENS: String(opts.maxOutputTokens) },
    maxTurns: opts.maxTurns,
    tools: offered,
    allowedTools: offered,
    disallowedTools: removed,
    permissionMode: opts.permissionMode,
    // Rendered fresh on every request (no snapshot), so a per-request or changed system prompt takes effect mid-conversation.
    systemPrompt: {
      type: 'preset',
      preset: 'claude_code',
      snapshot: false,
      ...(opts.systemPrompt ? { append: opts.systemPrompt } : {}),
    },
  };
  if (opts.permissionMode === 'bypassPermissions') sdk.allowDangerouslySkipPermissions = true;
  if (opts.model) sdk.model = opts.model;
  if (opts.effort) sdk.effort = opts.effort;
  if (host.cliPath) sdk.pathToClaudeCodeExecutable = host.cliPath;
  if (opts.maxBudgetUsd !== undefined) sdk.maxBudgetUsd = opts.maxBudgetUsd;
  if (opts.outputFormat) sdk.outputFormat = opts.outputFormat;
  const hooks = [host.guard?.hooks(), host.gate?.hooks()].filter((h) => h !== undefined);
  if (hooks.length > 0) {
    const merged: Partial<Record<HookEvent, HookCallbackMatcher[]>> = {};
    for (const h of hooks)
      for (const [event, matchers] of Object.entries(h) as Array<[HookEvent, HookCallbackMatcher[]]>)
        (merged[event] ??= []).push(...matchers);
    sdk.hooks = merged;
  }
  // AskUserQuestion exists in a session only when a callback can answer it: then it becomes a question to a person.
  if (host.gate && offered.includes('AskUserQuestion')) sdk.canUseTool = host.gate.canUseTool;
  if (host.sandbox) sdk.sandbox = host.sandbox;
  if (host.settingSources) sdk.settingSources = host.settingSources;
  return sdk;
}
