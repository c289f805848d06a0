// Reading the paths of a tool call exactly as Claude Code reads them (trim, `~`, NFC, lexical `.`/`..`, globs), or saying why a spelling cannot be read with certainty.
import { isAbsolute, resolve } from 'node:path';
import { SHELL_TOOLS } from './shell-tools.js';

/** One path a tool input names, and how the tool uses it. */
export interface ToolPath {
  field: string;
  value: string;
  /** `glob`: a pattern whose fixed leading folders are checked (Glob's `pattern`, Grep's `glob`). */
  kind: 'path' | 'glob';
}

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
  Grep: [
    ['path', 'path'],
    ['glob', 'glob'],
  ],
  LS: [['path', 'path']],
};

/** Any other tool (MCP, future built-ins): a string field whose name says it is a path. */
const PATH_FIELD =
  /(^|_)(path|paths|file|files|filename|dir|dirs|directory|directories|folder|cwd|root|notebook_path|file_path)$/i;

/** Tools that search their `path`, or the current directory without one. */
export const SEARCH_TOOLS = new Set(['Glob', 'Grep', 'LS']);

const GLOB_CHARS = /[*?[\]{}]/;
const MAX_BRACE_EXPANSIONS = 64;
/** `$NAME`, `${…}`, `$(…)`: shell forms Claude Code's file tools take literally, which a reader could take otherwise. */
const SHELL_VARIABLE = /\$(\{|\(|[A-Za-z_])/;
/** `file:…`, `http://…` at the start: a URL, which Claude Code's file tools take as a relative name. */
const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/|file:)/i;

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

/** Where a tool's paths are read from. */
export interface ReadContext {
  /** The CLI's current directory: relative paths start there. */
  cwd: string;
  /** The CLI's HOME, for `~`. */
  home?: string;
}

/** The absolute, lexically normal paths a tool path may name (every one must be allowed), or why it cannot be read. */
export type PathReading = { paths: string[] } | { refused: string };

/**
 * Reads a `path` field as Claude Code's expandPath does (checked on CLI 2.1.33x): white space trimmed at both
 * ends, empty = the current directory, `~` and `~/…` = HOME, then resolved against the current directory with `.`
 * and `..` applied to the text (the CLI does not let the kernel walk a `..`), in Unicode NFC. Spellings the CLI
 * takes literally but a reader could take otherwise are refused rather than guessed: `~user`, `$VAR` / `${…}`,
 * a URL (`file://…`), and `..` in a path the CLI hands on unnormalised (Glob/Grep/LS paths reach the hook raw).
 * A glob character in a path field is checked at its fixed leading folders too.
 */
export function readPath(value: string, ctx: ReadContext): PathReading {
  if (value.includes('\0')) return { refused: 'it contains a NUL byte' };
  const text = value.trim();
  const why = ambiguity(text);
  if (why) return { refused: why };
  if (text.split('/').includes('..'))
    return { refused: "it climbs with '..', which the policy does not follow; name the folder without it" };
  let expanded = text;
  if (text === '~' || text.startsWith('~/')) {
    if (!ctx.home) return { refused: '`~` has no home folder to stand for here' };
    expanded = ctx.home + text.slice(1);
  }
  const readings = new Set<string>();
  for (const spelling of [expanded.normalize('NFC'), expanded]) {
    readings.add(resolve(ctx.cwd, spelling));
    const fixed = fixedPart(spelling);
    if (fixed !== spelling) readings.add(resolve(ctx.cwd, fixed));
  }
  return { paths: [...readings] };
}

/**
 * Reads a glob pattern (Glob's `pattern`, Grep's `glob`) relative to the folder it searches: each `{…}`
 * alternative, as written and trimmed (the CLI does not trim a pattern), by its fixed leading folders. A `..`
 * anywhere, a leading `~`, shell variables and URLs are refused.
 */
export function readGlob(value: string, searchDir: string): PathReading {
  if (value.includes('\0')) return { refused: 'it contains a NUL byte' };
  const patterns = expandBraces(value);
  if (!patterns) return { refused: 'the pattern has too many {…} alternatives to check' };
  const readings = new Set<string>();
  for (const pattern of patterns) {
    for (const spelling of new Set([pattern, pattern.trim()])) {
      if (spelling.trim().startsWith('~'))
        return { refused: 'the pattern starts with `~`, which a glob does not expand' };
      const why = ambiguity(spelling.trim());
      if (why) return { refused: why };
      if (spelling.split('/').some((s) => s.trim() === '..'))
        return { refused: "the pattern climbs with '..', which the policy does not follow" };
      for (const form of new Set([spelling, spelling.normalize('NFC')])) {
        const fixed = fixedPart(form);
        readings.add(isAbsolute(fixed) ? resolve(fixed) : resolve(searchDir, fixed || '.'));
      }
    }
  }
  return { paths: [...readings] };
}

/** Why a (trimmed) spelling cannot be read with certainty, or undefined. */
function ambiguity(text: string): string | undefined {
  if (text.startsWith('~') && text !== '~' && !text.startsWith('~/'))
    return 'it starts with `~user`, which Claude Code takes as a folder named so and a shell as a home folder';
  if (SHELL_VARIABLE.test(text))
    return 'it holds a shell variable (`$NAME`, `${…}` or `$(…)`), which the policy does not expand';
  if (URL_SCHEME.test(text)) return 'it is a URL; give a file path';
  return undefined;
}

/** The folders of a pattern before its first segment with a glob character (all but the last name when none has one). */
function fixedPart(pattern: string): string {
  const parts = pattern.split('/');
  const firstGlob = parts.findIndex((s) => GLOB_CHARS.test(s));
  if (firstGlob < 0) return pattern;
  const fixed = parts.slice(0, firstGlob).join('/');
  return fixed === '' && pattern.startsWith('/') ? '/' : fixed;
}
