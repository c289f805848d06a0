// Permission rules in Claude Code's syntax (`Bash(npm test:*)`, `Write(src/**)`, `WebFetch(domain:x)`): parsing, checking, and matching a tool call.
import { isAbsolute, join, normalize, relative, sep } from 'node:path';

export type RuleOutcome = 'allow' | 'ask' | 'deny';
export const RULE_OUTCOMES: readonly RuleOutcome[] = ['deny', 'ask', 'allow'];

/** `permission_rules` as clients, templates and the operator write them. */
export interface PermissionRules {
  allow?: string[];
  ask?: string[];
  deny?: string[];
}

/** One parsed rule: the tool it names and what its parentheses say (none = every call of the tool). */
export interface Rule {
  text: string;
  tool: string;
  specifier?: string;
}

/** Where a rule is checked (for a problem's pointer): `allow`, `ask` or `deny`, and its index. */
export interface RuleProblem {
  outcome: RuleOutcome;
  index: number;
  rule: string;
  message: string;
}

/** Tools whose rules take a path pattern, and the tools each such rule covers (as Claude Code applies them). */
const PATH_RULE_TOOLS: Record<string, string[]> = {
  Read: ['Read', 'Glob', 'Grep', 'LS', 'NotebookRead'],
  Edit: ['Edit', 'MultiEdit', 'Write', 'NotebookEdit'],
  Write: ['Write'],
  MultiEdit: ['MultiEdit'],
  NotebookEdit: ['NotebookEdit'],
  Glob: ['Glob'],
  Grep: ['Grep'],
  LS: ['LS'],
};
/** Tools whose rules take a command (prefix with `:*`, or `*` wildcards). */
const COMMAND_RULE_TOOLS = new Set(['Bash', 'PowerShell']);
/** Tools whose rules take `domain:<host>`. */
const DOMAIN_RULE_TOOLS = new Set(['WebFetch']);
/** Tools whose rules take a name, matched exactly (or with `*`). */
const NAME_RULE_TOOLS: Record<string, string> = { Agent: 'subagent_type', Task: 'subagent_type', Skill: 'skill' };

/** Every tool name a rule may use without a specifier: Claude Code's built-ins, current and older names. */
export const KNOWN_TOOLS = new Set([
  'Agent',
  'AskUserQuestion',
  'Bash',
  'BashOutput',
  'Edit',
  'EnterPlanMode',
  'ExitPlanMode',
  'Glob',
  'Grep',
  'KillBash',
  'KillShell',
  'LS',
  'ListMcpResourcesTool',
  'LSP',
  'MultiEdit',
  'NotebookEdit',
  'NotebookRead',
  'PowerShell',
  'Read',
  'ReadMcpResourceTool',
  'Skill',
  'Task',
  'TaskCreate',
  'TaskGet',
  'TaskList',
  'TaskStop',
  'TaskUpdate',
  'TodoWrite',
  'ToolSearch',
  'WebFetch',
  'WebSearch',
  'Write',
]);

const MCP_NAME = /^mcp__[A-Za-z0-9_-]+(__[A-Za-z0-9_*-]+)?$/;
const RULE_TEXT = /^([A-Za-z][A-Za-z0-9_*-]*)(?:\((.*)\))?$/s;
const HOST = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
export const MAX_RULES_PER_OUTCOME = 200;
const MAX_RULE_CHARS = 1000;

/** Parses one rule; the message says what is wrong with it. */
export function parseRule(text: string): Rule | { error: string } {
  if (typeof text !== 'string' || text.trim() === '') return { error: 'a rule must be a non-empty string' };
  if (text.length > MAX_RULE_CHARS) return { error: `a rule may be at most ${MAX_RULE_CHARS} characters` };
  const m = RULE_TEXT.exec(text.trim());
  if (!m) return { error: 'expected `Tool` or `Tool(specifier)`' };
  const tool = m[1]!;
  const specifier = m[2];
  if (tool.startsWith('mcp__')) {
    if (!MCP_NAME.test(tool)) return { error: 'an MCP rule is `mcp__<server>` or `mcp__<server>__<tool>`' };
    if (specifier !== undefined) return { error: 'MCP rules take no specifier' };
    return { text, tool };
  }
  if (!KNOWN_TOOLS.has(tool)) return { error: `unknown tool ${tool}` };
  if (specifier === undefined) return { text, tool };
  const spec = specifier.trim();
  if (spec === '') return { error: `empty specifier: write ${tool} to name every call` };
  if (spec === '*') return { text, tool };
  if (COMMAND_RULE_TOOLS.has(tool)) {
    if (spec.indexOf(':*') >= 0 && !spec.endsWith(':*')) return { error: '`:*` may only end a command prefix' };
    return { text, tool, specifier: spec };
  }
  if (PATH_RULE_TOOLS[tool]) {
    if (spec.includes('\0')) return { error: 'a path pattern may not contain a NUL byte' };
    return { text, tool, specifier: spec };
  }
  if (DOMAIN_RULE_TOOLS.has(tool)) {
    const host = spec.startsWith('domain:') ? spec.slice('domain:'.length) : undefined;
    if (host === undefined || !HOST.test(host)) return { error: `${tool} rules take \`domain:<host>\`` };
    return { text, tool, specifier: `domain:${host.toLowerCase()}` };
  }
  if (NAME_RULE_TOOLS[tool]) return { text, tool, specifier: spec };
  return { error: `${tool} rules take no specifier` };
}

/** Every problem of a `permission_rules` object (empty when all its rules parse). */
export function checkRules(rules: PermissionRules | undefined): RuleProblem[] {
  const problems: RuleProblem[] = [];
  if (!rules) return problems;
  for (const outcome of RULE_OUTCOMES) {
    const list = rules[outcome] ?? [];
    if (list.length > MAX_RULES_PER_OUTCOME) {
      problems.push({
        outcome,
        index: MAX_RULES_PER_OUTCOME,
        rule: '',
        message: `at most ${MAX_RULES_PER_OUTCOME} ${outcome} rules`,
      });
    }
    list.forEach((rule, index) => {
      const parsed = parseRule(rule);
      if ('error' in parsed)
        problems.push({ outcome, index, rule, message: `rule ${JSON.stringify(rule)}: ${parsed.error}` });
    });
  }
  return problems;
}

/** What a rule is matched against: the call, the session's folder (for relative patterns) and the CLI's HOME. */
export interface CallContext {
  tool: string;
  input: unknown;
  cwd: string;
  home?: string;
}

/**
 * Whether the rule covers this tool call, the way Claude Code reads the same rule in its settings. As there, a `Read`
 * rule that denies also covers the tools that edit (a file one may not read may not be written either).
 */
export function ruleMatches(rule: Rule, call: CallContext, outcome?: RuleOutcome): boolean {
  if (rule.tool.startsWith('mcp__')) return mcpMatches(rule.tool, call.tool);
  const covered =
    outcome === 'deny' && rule.tool === 'Read'
      ? [...PATH_RULE_TOOLS.Read!, ...PATH_RULE_TOOLS.Edit!]
      : PATH_RULE_TOOLS[rule.tool];
  if (rule.specifier === undefined) return rule.tool === call.tool || (rule.tool === 'Task' && call.tool === 'Agent');
  const input = (call.input && typeof call.input === 'object' ? call.input : {}) as Record<string, unknown>;
  if (COMMAND_RULE_TOOLS.has(rule.tool)) {
    return (
      rule.tool === call.tool && typeof input.command === 'string' && commandMatches(rule.specifier, input.command)
    );
  }
  if (covered) {
    if (!covered.includes(call.tool)) return false;
    const path = pathOfCall(input);
    return path !== undefined && pathMatches(rule.specifier, path, call.cwd, call.home);
  }
  if (DOMAIN_RULE_TOOLS.has(rule.tool)) {
    return rule.tool === call.tool && typeof input.url === 'string' && domainMatches(rule.specifier, input.url);
  }
  const field = NAME_RULE_TOOLS[rule.tool];
  if (field) {
    const sameTool = rule.tool === call.tool || (rule.tool === 'Task' && call.tool === 'Agent');
    return sameTool && typeof input[field] === 'string' && wildcard(rule.specifier).test(input[field]);
  }
  return false;
}

function mcpMatches(rule: string, tool: string): boolean {
  if (rule === tool) return true;
  const parts = rule.split('__');
  if (parts.length === 2) return tool.startsWith(`${rule}__`); // a whole server
  return parts[2] === '*' && tool.startsWith(`${parts[0]}__${parts[1]}__`);
}

/** `*` matches any run of characters; everything else is literal. */
function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 's');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A Bash rule: `prefix:*` matches the prefix alone or followed by a space; `*` is a wildcard; else the exact command. */
export function commandMatches(spec: string, command: string): boolean {
  const cmd = command.trim();
  if (spec.endsWith(':*')) {
    const prefix = spec.slice(0, -2);
    return cmd === prefix || cmd.startsWith(`${prefix} `);
  }
  if (spec.includes('*')) return wildcard(spec).test(cmd);
  return cmd === spec;
}

/** The parts of a compound command (`a && b; c | d`), each checked on its own by the permission rules. */
export function commandParts(command: string): string[] {
  return command
    .split(/&&|\|\||;|\||\n/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

function pathOfCall(input: Record<string, unknown>): string | undefined {
  for (const field of ['file_path', 'notebook_path', 'path']) {
    const v = input[field];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/**
 * A path rule, gitignore-style as in Claude Code's settings: `//abs/**` is an absolute path, `~/x` is under HOME,
 * `/x` and `./x` and `x/y` are relative to the session's folder, and a pattern without a slash matches the file's name
 * at any depth. `**` crosses folders, `*` and `?` do not.
 */
export function pathMatches(spec: string, path: string, cwd: string, home?: string): boolean {
  const target = normalize(isAbsolute(path) ? path : join(cwd, path));
  let pattern: string;
  if (spec.startsWith('//')) pattern = spec.slice(1);
  else if (spec.startsWith('~/')) {
    if (!home) return false;
    pattern = join(home, spec.slice(2));
  } else if (spec.startsWith('/')) pattern = join(cwd, spec.slice(1));
  else if (!spec.replace(/\/$/, '').includes('/')) {
    const name = target.split(sep).at(-1) ?? '';
    const rel = relative(cwd, target);
    // `dir/` style: every file under a folder of that name; else the file's own name.
    if (spec.endsWith('/'))
      return rel
        .split(sep)
        .slice(0, -1)
        .some((part) => globRegExp(spec.slice(0, -1)).test(part));
    return globRegExp(spec).test(name);
  } else pattern = join(cwd, spec.startsWith('./') ? spec.slice(2) : spec);
  if (spec.endsWith('/')) pattern += '**';
  return globRegExp(pattern).test(target);
}

/** A glob as a RegExp over a whole path: `**` any depth, `*` and `?` within one folder, `{a,b}` alternatives. */
function globRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slashAfter = glob[i + 2] === '/';
        // `dir/**` covers the folder itself too, as Claude Code reads it.
        if (!slashAfter && i + 2 === glob.length && out.endsWith('/')) out = `${out.slice(0, -1)}(?:/.*)?`;
        else out += slashAfter ? '(?:.*/)?' : '.*';
        i += slashAfter ? 2 : 1;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '{') {
      const close = glob.indexOf('}', i);
      if (close < 0) out += '\\{';
      else {
        out += `(?:${glob
          .slice(i + 1, close)
          .split(',')
          .map(escapeRegExp)
          .join('|')})`;
        i = close;
      }
    } else out += escapeRegExp(c);
  }
  return new RegExp(`^${out}$`, 's');
}

function domainMatches(spec: string, url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  const want = spec.slice('domain:'.length);
  if (want.startsWith('*.')) return host.endsWith(want.slice(1));
  return host === want;
}

/** The narrowest rule that names exactly this call, for remembering a person's answer. */
export function ruleForCall(tool: string, input: unknown): string {
  const rec = (input && typeof input === 'object' ? input : {}) as Record<string, unknown>;
  if (COMMAND_RULE_TOOLS.has(tool) && typeof rec.command === 'string' && !rec.command.includes(')'))
    return `${tool}(${rec.command.trim()})`;
  const path = pathOfCall(rec);
  if (PATH_RULE_TOOLS[tool] && path !== undefined && isAbsolute(path) && !/[*?{}()]/.test(path))
    return `${tool}(/${normalize(path)})`;
  if (DOMAIN_RULE_TOOLS.has(tool) && typeof rec.url === 'string') {
    try {
      return `${tool}(domain:${new URL(rec.url).hostname.toLowerCase()})`;
    } catch {
      // falls through to the whole tool
    }
  }
  return tool;
}
