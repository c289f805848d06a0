// The `model` of a compatible request: a Claude model id or alias, or `template:<name>`; and the list /v1/models shows.
import type { Config } from '../../config/index.js';
import type { TemplateLookup, TemplateRegistry } from '../../templates/registry.js';
import { HttpProblem } from '../http-problem.js';

/** The aliases Claude Code resolves itself to the latest model of each family. */
export const CLAUDE_ALIASES = ['sonnet', 'opus', 'haiku'] as const;
export const TEMPLATE_PREFIX = 'template:';
/** A full Claude model id, e.g. `claude-sonnet-4-5` or `claude-opus-4-1-20250805`. */
const CLAUDE_MODEL_ID = /^claude-[a-z0-9][a-z0-9.-]{0,100}$/;

export interface ModelEntry {
  id: string;
  /** `claude` for a model id or alias, `template` for an agent template. */
  kind: 'claude' | 'template';
}

/** What a `model` value asks for: a Claude model (passed to Claude Code) or a template. */
export type ModelChoice = { model: string } | { template: string };

function modelNotFound(): HttpProblem {
  // The id is not repeated back: the answer must read the same whoever's name a caller sends.
  return new HttpProblem(
    404,
    `That model does not exist here: send a Claude model id or alias, or template:<name> (GET /v1/models lists them).`,
    { slug: 'model-not-found', title: 'Model not found', extra: { param: 'model' } },
  );
}

/** Every model a client may name: the operator's allowed models (or the aliases and CLAUDE_MODEL), then the templates. */
export function listModels(claude: Config['claude'], templates: Pick<TemplateRegistry, 'list'>): ModelEntry[] {
  const names =
    claude.allowedModels.length > 0
      ? claude.allowedModels
      : [...new Set([...(claude.model ? [claude.model] : []), ...CLAUDE_ALIASES])];
  return [
    ...names.map((id) => ({ id, kind: 'claude' as const })),
    ...templates.list().map((t) => ({ id: `${TEMPLATE_PREFIX}${t.name}`, kind: 'template' as const })),
  ];
}

/** Resolves a request's `model`; 404 `model-not-found` when it names no Claude model, alias or loaded template. */
export function chooseModel(id: string, claude: Config['claude'], templates: TemplateLookup): ModelChoice {
  if (id.startsWith(TEMPLATE_PREFIX)) {
    const name = id.slice(TEMPLATE_PREFIX.length);
    if (!templates.get(name)) throw modelNotFound();
    return { template: name };
  }
  const known = claude.allowedModels.length > 0 ? claude.allowedModels : [...CLAUDE_ALIASES, claude.model ?? ''];
  if (known.includes(id) || (claude.allowedModels.length === 0 && CLAUDE_MODEL_ID.test(id))) return { model: id };
  throw modelNotFound();
}

/** One model in the wire format of /v1/models (OpenAI's, or Anthropic's when the client sends `anthropic-version`). */
export function modelView(entry: ModelEntry, anthropic: boolean, created: Date): Record<string, unknown> {
  if (anthropic) {
    return { type: 'model', id: entry.id, display_name: entry.id, created_at: created.toISOString() };
  }
  return {
    id: entry.id,
    object: 'model',
    created: Math.floor(created.getTime() / 1000),
    owned_by: entry.kind === 'template' ? 'claude-code-api' : 'anthropic',
  };
}
