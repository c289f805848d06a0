// A template against the operator's limits: its tool list is narrowed to what the operator allows; any other refused option is flagged.
import type { Config } from '../config/index.js';
import { checkOptions, type SessionOptions } from '../engine/options.js';
import type { TemplateProfile } from './schema.js';

/** The options a template sets (its profile without the description). */
export function templateOptions(profile: TemplateProfile): SessionOptions {
  const { description: _description, permission_rules: _rules, ...options } = profile;
  return options;
}

/**
 * Narrows a profile to the operator's CLAUDE_ALLOWED_TOOLS (a template can only narrow, like a client) and says what
 * it dropped. Any other option the operator's checks refuse (a permission mode outside CLAUDE_ALLOWED_PERMISSION_MODES,
 * a model outside CLAUDE_ALLOWED_MODELS, max_turns over CLAUDE_MAX_TURNS_LIMIT) stays, with a warning: swapping it for
 * the default could widen what the profile may do (plan → acceptEdits), so a session using the template must set
 * that option itself (see refusedTemplateOption).
 */
export function applyOperatorLimits(
  profile: TemplateProfile,
  claude: Config['claude'],
): { profile: TemplateProfile; warnings: string[] } {
  const warnings: string[] = [];
  let narrowed = profile;
  if (profile.allowed_tools) {
    const dropped = profile.allowed_tools.filter((t) => !claude.allowedTools.includes(t));
    if (dropped.length > 0) {
      narrowed = { ...profile, allowed_tools: profile.allowed_tools.filter((t) => claude.allowedTools.includes(t)) };
      warnings.push(`allowed_tools narrowed: ${dropped.join(', ')} not in the operator's CLAUDE_ALLOWED_TOOLS`);
    }
  }
  const { allowed_tools: _tools, ...rest } = templateOptions(profile);
  for (const p of checkOptions(claude, rest))
    warnings.push(`${p.message}: a session using this template must set its own ${p.field}`);
  return { profile: narrowed, warnings };
}

/**
 * The first option of a template the operator refuses that no higher layer (session, request) replaces, or undefined.
 * Tools are not checked: they were narrowed when the template was loaded.
 */
export function refusedTemplateOption(
  template: SessionOptions,
  higher: SessionOptions[],
  claude: Config['claude'],
): string | undefined {
  const { allowed_tools: _tools, ...rest } = template;
  const unset = Object.fromEntries(
    Object.entries(rest).filter(([key]) => higher.every((layer) => layer[key as keyof SessionOptions] === undefined)),
  ) as SessionOptions;
  const problem = checkOptions(claude, unset)[0];
  return problem && `${problem.message}; set ${problem.field} to one that is`;
}
