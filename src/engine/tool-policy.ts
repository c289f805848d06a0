// The workspace guard: a PreToolUse hook that resolves every path a tool call would touch (realpath, symlinks followed) and denies what leaves the session's working directory.
import { lstat, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type { HookCallbackMatcher, HookEvent, HookJSONOutput } from '@anthropic-ai/claude-agent-sdk';
import { isWithin } from '../workspace/paths.js';

/** A tool call the policy refused, as recorded on the turn. */
export interface ToolDenial {
  tool: string;
  input: unknown;
  reason: string;
  tool_use_id?: string;
}

export type ToolDecision = { allow: true } | { allow: false; reason: string };

/** One path a tool input names, and how the tool uses it. */
export interface ToolPath {
  field: string;
  value: string;
  /** `glob`: a pattern whose fixed leading folders are checked and which must not climb with `..`. */
  kind: 'path' | 'glob';
}

/** Tools that run commands: contained by the OS sandbox, not path-checked here. */
export const SHELL_TOOLS = new Set(['Bash', 'BashOutput', 'KillShell', 'KillBash']);

/** The path fields of the built-in file tools. */
const FILE_TOOL_FIELDS: Record<string, Array<[string, ToolPath['kind']]>> = {
  Read: [['file_path', 'path']],
  Write: [['file_path', 'path']],
  Edit: [['file_path', 'path']],
  MultiEdit: [['file_path', 'path']],
  NotebookEdit: [['notebook_path', 'path']],
  NotebookRead: [['notebook_path', 'path']],
  Glob: [
    ['path', 'path'],
    ['pattern', 'glob'],
  ],
  Grep: [['path', 'path']],
  LS: [['path', 'path']],
};

/** Any other tool (MCP, future built-ins): a string field whose name says it is a path. */
const PATH_FIELD =
  /(^|_)(path|paths|file|files|filename|dir|dirs|directory|directories|folder|cwd|root|notebook_path|file_path)$/i;

const GLOB_CHARS = /[*?[\]{}]/;
/** Tools that search their `path`, or the current directory without one. */
const SEARCH_TOOLS = new Set(['Glob', 'Grep', 'LS']);
const MAX_LINKS = 40;
const MAX_BRACE_EXPANSIONS = 64;

/** The paths a tool call would touch, as named in its input. */
export function pathsOf(tool: string, input: unknown): ToolPath[] {
  if (SHELL_TOOLS.has(tool) || !input || typeof input !== 'object') return [];
  const record = input as Record<string, unknown>;
  const known = FILE_TOOL_FIELDS[tool];
  const out: ToolPath[] = [];
  if (known) {
    for (const [field, kind] of known) {
      const value = record[field];
      if (typeof value === 'string' && value !== '') out.push({ field, value, kind });
    }
    return out;
  }
  for (const [field, value] of Object.entries(record)) {
    if (!PATH_FIELD.test(field)) continue;
    if (typeof value === 'string' && value !== '') out.push({ field, value, kind: 'path' });
    else if (Array.isArray(value))
      for (const v of value) if (typeof v === 'string' && v !== '') out.push({ field, value: v, kind: 'path' });
  }
  return out;
}

/** `~` and `~/…` as the CLI expands them (its HOME). */
function expandHome(p: string, home: string | undefined): string {
  if (!home) return p;
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}

const isMissing = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

/**
 * The real path an absolute path leads to: symlinks followed (dangling ones too), the part that does not exist yet
 * appended as written. Throws on link loops or unreadable links, which the caller treats as outside.
 */
export async function realTarget(abs: string, depth = 0): Promise<string> {
  if (depth > MAX_LINKS) throw new Error('too many symbolic links');
  const rest: string[] = [];
  let existing = abs;
  for (;;) {
    try {
      const real = await realpath(existing);
      return rest.length > 0 ? join(real, ...rest) : real;
    } catch (err) {
      if (!isMissing(err)) throw err;
      const st = await lstat(existing).catch(() => undefined);
      if (st?.isSymbolicLink()) {
        const target = resolve(dirname(existing), await readlink(existing));
        return realTarget(rest.length > 0 ? join(target, ...rest) : target, depth + 1);
      }
      const parent = dirname(existing);
      if (parent === existing) return abs;
      rest.unshift(basename(existing));
      existing = parent;
    }
  }
}

/**
 * The same path resolved the way the kernel walks it, one component at a time: a `..` after a symlink climbs from
 * the link's target, not from the folder holding the link.
 */
export async function kernelTarget(base: string, p: string, depth = 0): Promise<string> {
  if (depth > MAX_LINKS) throw new Error('too many symbolic links');
  let cur = isAbsolute(p) ? sep : base;
  let missing = false;
  for (const part of p.split(/[\\/]+/)) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      cur = dirname(cur);
      continue;
    }
    const next = join(cur, part);
    if (missing) {
      cur = next;
      continue;
    }
    const st = await lstat(next).catch((err: unknown) => {
      if (isMissing(err)) return undefined;
      throw err;
    });
    if (!st) {
      missing = true;
      cur = next;
    } else if (st.isSymbolicLink()) {
      cur = await kernelTarget(cur, await readlink(next), depth + 1);
    } else {
      cur = next;
    }
  }
  return cur;
}

/** Expands `{a,b}` groups (nested ones too) so each alternative of a pattern can be checked; undefined when there are too many. */
export function expandBraces(pattern: string): string[] | undefined {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  const commas: number[] = [];
  let close = -1;
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      close = i;
      break;
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  if (close < 0) return [pattern]; // an unmatched brace is a literal character
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = [open, ...commas, close];
  const out: string[] = [];
  for (let i = 0; i < bounds.length - 1; i++) {
    const alternatives = expandBraces(head + pattern.slice(bounds[i]! + 1, bounds[i + 1]) + tail);
    if (!alternatives) return undefined;
    out.push(...alternatives);
    if (out.length > MAX_BRACE_EXPANSIONS) return undefined;
  }
  return out;
}

export interface GuardOptions {
  /** The session's working directory: every file tool call must stay inside it. */
  workingDir: string;
  /** The CLI's HOME, for `~` in paths. */
  home?: string;
  /** Folders besides the working directory the session may use (its CLI temp folder, where background task output lands). */
  extraRoots?: string[];
  /** Why shell tools are refused (the sandbox cannot start here); undefined = they are allowed (and sandboxed). */
  shellRefusal?: string;
}

/** Decides tool calls for one session and tells listeners about every refusal. */
export class WorkspaceGuard {
  private readonly listeners = new Set<(denial: ToolDenial) => void>();
  private realRoots: Promise<string[]> | undefined;

  constructor(readonly opts: GuardOptions) {}

  /** Called with every denial (the runner records them on the running turn); returns an unsubscribe function. */
  onDenial(fn: (denial: ToolDenial) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The SDK hooks: one PreToolUse matcher on every tool; a failing hook blocks the call. */
  hooks(): Partial<Record<HookEvent, HookCallbackMatcher[]>> {
    return {
      PreToolUse: [
        {
          hooks: [
            async (input, toolUseId) => {
              if (input.hook_event_name !== 'PreToolUse') return {};
              return this.hookAnswer(input.tool_name, input.tool_input, input.cwd, toolUseId ?? input.tool_use_id);
            },
          ],
          timeout: 30,
          onFailure: 'block',
        },
      ],
    };
  }

  /** Allow or deny one call; `hookCwd` is the CLI's current directory, which relative paths may also be resolved against. */
  async check(tool: string, input: unknown, hookCwd?: string): Promise<ToolDecision> {
    if (SHELL_TOOLS.has(tool)) {
      return this.opts.shellRefusal ? { allow: false, reason: this.opts.shellRefusal } : { allow: true };
    }
    const roots = await this.roots();
    const bases = [roots[0]!];
    if (hookCwd && isAbsolute(hookCwd) && hookCwd !== bases[0]) bases.push(hookCwd);
    const paths = pathsOf(tool, input);
    // A search without `path` runs in the CLI's current directory: that must be inside too.
    if (SEARCH_TOOLS.has(tool) && hookCwd && !paths.some((p) => p.field === 'path'))
      paths.push({ field: 'path', value: hookCwd, kind: 'path' });
    for (const p of paths) {
      const why =
        p.kind === 'glob'
          ? await this.globOutside(p, input, bases, roots)
          : await this.pathOutside(p.value, bases, roots);
      if (why) return { allow: false, reason: this.reason(tool, p, why) };
    }
    return { allow: true };
  }

  private async hookAnswer(
    tool: string,
    input: unknown,
    hookCwd: string | undefined,
    toolUseId: string | undefined,
  ): Promise<HookJSONOutput> {
    let decision: ToolDecision;
    try {
      decision = await this.check(tool, input, hookCwd);
    } catch (err) {
      decision = {
        allow: false,
        reason: `The workspace guard could not check this call (${(err as Error).message}); it was refused.`,
      };
    }
    if (decision.allow) return {};
    const denial: ToolDenial = {
      tool,
      input,
      reason: decision.reason,
      ...(toolUseId ? { tool_use_id: toolUseId } : {}),
    };
    for (const fn of [...this.listeners]) {
      try {
        fn(denial);
      } catch {
        // a listener's failure never turns a denial into an allow
      }
    }
    return {
      hookSpecificOutput: {
        hookEventName: 'PreToolUse',
        permissionDecision: 'deny',
        permissionDecisionReason: decision.reason,
      },
    };
  }

  /** The real working directory, then the other allowed folders that exist. */
  private roots(): Promise<string[]> {
    this.realRoots ??= (async () => {
      const extra = await Promise.all((this.opts.extraRoots ?? []).map((r) => realpath(r).catch(() => undefined)));
      return [await realpath(this.opts.workingDir), ...extra.filter((r): r is string => r !== undefined)];
    })();
    return this.realRoots;
  }

  /** Why the path leaves the working directory (resolved from each base, lexically and component-wise), or undefined. */
  private async pathOutside(value: string, bases: string[], roots: string[]): Promise<string | undefined> {
    if (value.includes('\0')) return 'the path contains a NUL byte';
    const p = expandHome(value, this.opts.home);
    const inside = (target: string) => roots.some((r) => isWithin(r, target));
    for (const base of isAbsolute(p) ? [bases[0]!] : bases) {
      let targets: string[];
      try {
        targets = [await realTarget(resolve(base, p)), await kernelTarget(base, p)];
      } catch (err) {
        return `the path cannot be resolved (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
      }
      for (const target of targets) {
        if (!inside(target))
          return target === resolve(base, p)
            ? 'it is outside'
            : `it leads to ${target} (through a symbolic link or ..), which is outside`;
      }
    }
    return undefined;
  }

  private async globOutside(
    p: ToolPath,
    input: unknown,
    bases: string[],
    roots: string[],
  ): Promise<string | undefined> {
    const dir = (input as Record<string, unknown>).path;
    const searchBases = typeof dir === 'string' && dir !== '' ? [expandHome(dir, this.opts.home)] : ['.'];
    const patterns = expandBraces(p.value);
    if (!patterns) return 'the pattern has too many {…} alternatives to check';
    for (const pattern of patterns) {
      const expanded = expandHome(pattern, this.opts.home);
      const parts = expanded.split('/');
      const firstGlob = parts.findIndex((s) => GLOB_CHARS.test(s));
      if (firstGlob >= 0 && parts.slice(firstGlob).includes('..'))
        return 'the pattern climbs out with `..` after a wildcard';
      const fixed =
        (firstGlob < 0 ? parts.slice(0, -1) : parts.slice(0, firstGlob)).join('/') ||
        (isAbsolute(expanded) ? '/' : '.');
      for (const base of searchBases) {
        const start = isAbsolute(fixed) ? fixed : join(base, fixed);
        const why = await this.pathOutside(start, bases, roots);
        if (why) return why;
      }
    }
    return undefined;
  }

  private reason(tool: string, p: ToolPath, why: string): string {
    return (
      `Access denied by the workspace policy: ${tool} ${p.field} ${JSON.stringify(p.value)} is not allowed because ${why} ` +
      `this session's working directory (${this.opts.workingDir}). File tools may only read and write inside it; use paths within it.`
    );
  }
}
