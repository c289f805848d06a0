// Moderation of what clients send Claude: rules from a YAML file (the shipped defaults or MODERATION_RULES_PATH), reloaded on change; a hit is a 422 problem naming the rule.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { parse } from 'yaml';
import { ProblemError } from '../problems.js';
import { watchFiles, type FileWatch } from '../templates/watch.js';

/** The rules shipped with the service (project root; the same path from src/ under tsx and from dist/). */
export const DEFAULT_RULES_FILE = fileURLToPath(new URL('../../moderation/rules.yaml', import.meta.url));

export interface ModerationRule {
  name: string;
  description: string;
  pattern: RegExp;
}

export interface ModerationHit {
  rule: string;
  description: string;
}

/** A rules file that cannot be used: the message names the file and the rule. */
export class RulesFileError extends Error {
  override name = 'RulesFileError';
}

const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const FLAGS = /^[imsu]*$/;

/** Parses and checks a rules file's text; throws RulesFileError on the first problem. */
export function parseRules(text: string, file: string): ModerationRule[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new RulesFileError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const list = (doc as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(list)) throw new RulesFileError(`${file}: expected a top-level \`rules:\` list`);
  const seen = new Set<string>();
  return list.map((raw: unknown, i) => {
    const at = `${file}: rule ${i + 1}`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      throw new RulesFileError(`${at}: must be a mapping with name and pattern`);
    const r = raw as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!['name', 'description', 'pattern', 'flags'].includes(key))
        throw new RulesFileError(`${at}: unknown field ${JSON.stringify(key)}`);
    }
    if (typeof r.name !== 'string' || !RULE_NAME.test(r.name))
      throw new RulesFileError(`${at}: name must be 1–64 letters, digits, - or _`);
    if (seen.has(r.name)) throw new RulesFileError(`${at}: duplicate name ${r.name}`);
    seen.add(r.name);
    if (typeof r.pattern !== 'string' || r.pattern === '')
      throw new RulesFileError(`${at} (${r.name}): pattern must be a non-empty string`);
    const flags = r.flags === undefined ? '' : r.flags;
    if (typeof flags !== 'string' || !FLAGS.test(flags))
      throw new RulesFileError(`${at} (${r.name}): flags may only hold i, m, s and u`);
    if (r.description !== undefined && typeof r.description !== 'string')
      throw new RulesFileError(`${at} (${r.name}): description must be a string`);
    let pattern: RegExp;
    try {
      pattern = new RegExp(r.pattern, flags);
    } catch (err) {
      throw new RulesFileError(`${at} (${r.name}): invalid pattern: ${(err as Error).message}`);
    }
    return { name: r.name, description: r.description ?? r.name, pattern };
  });
}

export interface ModerationOptions {
  enabled: boolean;
  /** MODERATION_RULES_PATH: replaces the shipped rules; watched for changes. */
  rulesPath?: string;
  log: Logger;
  debounceMs?: number;
}

/** The rules in force; `check` is synchronous and cheap, so every message can go through it. */
export class Moderation {
  private rules: ModerationRule[] = [];
  private watcher: FileWatch | undefined;
  readonly file: string;
  /** Why the latest reload was refused; undefined after a successful one. */
  lastReloadError: string | undefined;

  /** Loads the rules; throws RulesFileError when the file is invalid (the server does not start with broken rules). */
  constructor(private readonly opts: ModerationOptions) {
    this.file = opts.rulesPath ?? DEFAULT_RULES_FILE;
    if (opts.enabled) this.rules = this.load();
  }

  get enabled(): boolean {
    return this.opts.enabled;
  }

  /** Names of the rules in force. */
  ruleNames(): string[] {
    return this.rules.map((r) => r.name);
  }

  /** Reads the file again; on failure keeps the rules in force, logs and rethrows. */
  reload(): ModerationRule[] {
    try {
      this.rules = this.load();
      this.lastReloadError = undefined;
      this.opts.log.info({ file: this.file, rules: this.rules.length }, 'moderation rules reloaded');
      return this.rules;
    } catch (err) {
      this.lastReloadError = (err as Error).message;
      this.opts.log.error(
        { file: this.file, err: (err as Error).message },
        'moderation rules file refused; the previous rules stay',
      );
      throw err;
    }
  }

  /** Reloads whenever MODERATION_RULES_PATH changes (the shipped file is not watched). */
  watch(): void {
    if (!this.opts.enabled || !this.opts.rulesPath || this.watcher) return;
    this.watcher = watchFiles(
      this.opts.rulesPath,
      /\.ya?ml$/i,
      this.opts.debounceMs ?? 200,
      () => {
        try {
          this.reload();
        } catch {
          // logged by reload; the previous rules stay
        }
      },
      (err) => this.opts.log.warn({ err: err.message }, 'watching MODERATION_RULES_PATH failed'),
    );
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** The first rule the text matches, or undefined (always undefined when moderation is off). */
  check(text: string): ModerationHit | undefined {
    if (!this.opts.enabled) return undefined;
    for (const rule of this.rules) {
      rule.pattern.lastIndex = 0;
      if (rule.pattern.test(text)) return { rule: rule.name, description: rule.description };
    }
    return undefined;
  }

  /** Throws the 422 problem when `text` matches a rule; `pointer` names the field (`/message`, `/system_prompt` …). */
  assert(text: string | undefined, pointer = '/message'): void {
    if (text === undefined) return;
    const hit = this.check(text);
    if (hit) throw moderationProblem(hit, pointer);
  }

  private load(): ModerationRule[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      throw new RulesFileError(
        `${this.file}: cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    return parseRules(text, this.file);
  }
}

/** The problem of a moderation hit: 422, its own type, the rule named in `rule` and in the detail. */
export function moderationProblem(hit: ModerationHit, pointer: string): ProblemError {
  const message = `matches the moderation rule ${hit.rule} (${hit.description})`;
  return new ProblemError(
    422,
    'moderation-blocked',
    'Blocked by moderation',
    `The request was refused: ${pointer.slice(1)} ${message}.`,
    {
      rule: hit.rule,
      errors: [{ location: 'body', pointer, message }],
    },
  );
}
