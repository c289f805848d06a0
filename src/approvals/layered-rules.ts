// The outcome of a tool call under layered permission rules (operator, template, key, session, request): deny beats ask beats allow.
import {
  commandParts,
  parseRule,
  RULE_OUTCOMES,
  ruleMatches,
  type CallContext,
  type PermissionRules,
  type Rule,
  type RuleOutcome,
} from './rules.js';

export type RuleLevel = 'operator' | 'template' | 'key' | 'session' | 'request';

export interface RuleLayer {
  level: RuleLevel;
  rules: PermissionRules;
}

/** A person's remembered answer to an approval: it settles later `ask`s of the same call. */
export interface RememberedAnswer {
  level: 'key' | 'session';
  outcome: 'allow' | 'deny';
  rule: string;
}

/** `none`: no rule names the call, so Claude Code's permission mode decides. */
export interface Verdict {
  outcome: RuleOutcome | 'none';
  /** The rule that decided, and its level (`remembered` for a person's remembered answer). */
  rule?: string;
  level?: RuleLevel | 'remembered';
}

const COMMAND_TOOLS = new Set(['Bash', 'PowerShell']);

function parsed(text: string): Rule | undefined {
  const r = parseRule(text);
  return 'error' in r ? undefined : r;
}

/** The call each part of a compound shell command makes (`a && b` → `a`, `b`); other calls as they are. */
function partsOf(call: CallContext): CallContext[] {
  const input = call.input as { command?: unknown } | null;
  if (!COMMAND_TOOLS.has(call.tool) || typeof input?.command !== 'string') return [call];
  const parts = commandParts(input.command);
  return parts.length <= 1 ? [call] : parts.map((command) => ({ ...call, input: { ...input, command } }));
}

/**
 * The first rule of `outcome` that names the call. A deny or ask rule names a compound command when it names the whole
 * of it or any of its parts; allow rules only when they name every part.
 */
function find(layers: readonly RuleLayer[], outcome: RuleOutcome, call: CallContext): Verdict | undefined {
  const rules = layers.flatMap((l) =>
    (l.rules[outcome] ?? []).flatMap((text) => {
      const rule = parsed(text);
      return rule ? [{ rule, level: l.level }] : [];
    }),
  );
  const parts = partsOf(call);
  // `ls && rm x` is not allowed by `Bash(ls:*)`: an allow must cover each part of a compound command.
  const whole =
    outcome === 'allow' && parts.length > 1 ? undefined : rules.find((r) => ruleMatches(r.rule, call, outcome));
  if (whole) return { outcome, rule: whole.rule.text, level: whole.level };
  if (parts.length === 1) return undefined;
  if (outcome === 'allow') {
    const each = parts.map((p) => rules.find((r) => ruleMatches(r.rule, p, outcome)));
    return each.every((r) => r !== undefined)
      ? { outcome, rule: each[0]!.rule.text, level: each[0]!.level }
      : undefined;
  }
  for (const p of parts) {
    const hit = rules.find((r) => ruleMatches(r.rule, p, outcome));
    if (hit) return { outcome, rule: hit.rule.text, level: hit.level };
  }
  return undefined;
}

/** What the rules say of a call: deny at any level beats ask beats allow; an ask a person already answered (remembered) is settled by that answer. */
export function decide(
  layers: readonly RuleLayer[],
  remembered: readonly RememberedAnswer[],
  call: CallContext,
): Verdict {
  for (const outcome of RULE_OUTCOMES) {
    const verdict = find(layers, outcome, call);
    if (!verdict) continue;
    if (outcome === 'ask') {
      for (const answer of ['deny', 'allow'] as const) {
        const hit = remembered.find((r) => r.outcome === answer && ruleMatchesText(r.rule, call));
        if (hit) return { outcome: answer, rule: hit.rule, level: 'remembered' };
      }
    }
    return verdict;
  }
  return { outcome: 'none' };
}

function ruleMatchesText(text: string, call: CallContext): boolean {
  const rule = parsed(text);
  return rule !== undefined && ruleMatches(rule, call);
}
