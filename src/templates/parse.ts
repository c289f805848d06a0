// Parses one templates YAML file and validates it, reporting every problem with the file, line and column it is at.
import { Value } from 'typebox/value';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { checkRules } from '../approvals/rules.js';
import { commaList } from '../config/index.js';
import { TEMPLATE_NAME_PATTERN, TemplateFile, type TemplateProfile } from './schema.js';

/** One problem of a templates file; `line` and `column` count from 1. */
export interface TemplateIssue {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the offending value (`templates.security.max_turns`), '' for the file itself. */
  path: string;
  message: string;
}

/** A templates file that cannot be used; the message names the first problem's file and line. */
export class TemplateFileError extends Error {
  override name = 'TemplateFileError';
  constructor(readonly issues: TemplateIssue[]) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(first ? `${formatIssue(first)}${more}` : 'invalid templates file');
  }
}

export function formatIssue(i: TemplateIssue): string {
  return `${i.file} line ${i.line}, column ${i.column}: ${i.path ? `${i.path} ` : ''}${i.message}`;
}

const NAME = new RegExp(TEMPLATE_NAME_PATTERN);

/** Validates the YAML text of one file and returns its profiles by name, in file order. */
export function parseTemplateFile(text: string, file: string): Map<string, TemplateProfile> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const at = (offset: number | undefined) => {
    const pos = lines.linePos(offset ?? 0);
    return { line: pos.line, column: pos.col };
  };
  if (doc.errors.length > 0) {
    throw new TemplateFileError(
      doc.errors.map((e) => ({
        file,
        ...at(e.pos[0]),
        path: '',
        message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
      })),
    );
  }
  const { data, seedForm } = normalized(doc.toJS({ maxAliasCount: 100 }));
  const issues: TemplateIssue[] = [];
  const issue = (segments: string[], message: string, keyOf?: string) => {
    // The Python seed's file has no `templates:` level: its paths and positions start at the template names.
    const inFile = seedForm ? segments.slice(1) : segments;
    issues.push({
      file,
      ...at(offsetOf(doc, inFile, keyOf)),
      path: [...inFile, ...(keyOf ? [keyOf] : [])].join('.'),
      message,
    });
  };

  const unions = new Map<string, { segments: string[]; schemaPath: string }>();
  for (const e of Value.Errors(TemplateFile, data)) {
    const segments = pointerSegments(e.instancePath);
    // `additionalProperties: false` reports twice: once per unknown key ("schema is false") and once on the parent.
    if (e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties')) continue;
    if (e.keyword === 'additionalProperties') {
      const extra = e.params.additionalProperties;
      for (const key of extra)
        issue(
          segments,
          `${JSON.stringify(key)} is not a known key${segments.length === 0 ? ' (expected `templates:`)' : ''}`,
          key,
        );
      continue;
    }
    // A union of literals fails once per choice (`const`, `type`) and then as `anyOf` (which the error buffer may cut
    // off): report one "must be one of" per value, whichever of these arrived.
    const branch = /^(.*)\/anyOf\/\d+$/.exec(e.schemaPath)?.[1] ?? (e.keyword === 'anyOf' ? e.schemaPath : undefined);
    if (branch !== undefined) {
      if (!unions.has(e.instancePath)) unions.set(e.instancePath, { segments, schemaPath: branch });
      continue;
    }
    if (e.keyword === 'required') {
      const missing = e.params.requiredProperties;
      issue(
        segments,
        `${segments.length === 0 ? 'the file ' : ''}is missing ${missing.map((k) => `\`${k}:\``).join(', ')}`,
      );
      continue;
    }
    issue(segments, e.message);
  }
  for (const { segments, schemaPath } of unions.values()) {
    const choices = choicesAt(schemaPath);
    issue(segments, choices ? `must be one of ${choices.join(', ')}` : 'does not match any allowed form');
  }
  if (issues.length === 0 && !Value.Check(TemplateFile, data)) issue([], 'is not a valid templates file');
  if (issues.length > 0) throw new TemplateFileError(sortIssues(issues));

  const templates = (data as TemplateFile).templates;
  for (const [name, profile] of Object.entries(templates)) {
    if (!NAME.test(name)) {
      issue(
        ['templates'],
        'is not an allowed template name (letters, digits, dot, dash, underscore; 1–64 characters)',
        name,
      );
    }
    for (const p of checkRules(profile.permission_rules))
      issue(['templates', name, 'permission_rules', p.outcome, String(p.index)], p.message);
  }
  if (issues.length > 0) throw new TemplateFileError(issues);
  return new Map(Object.entries(templates));
}

const TOOL_LISTS = ['allowed_tools', 'disallowed_tools'] as const;

/**
 * The file's data in our form: the Python seed's files are a top-level map of name → profile (no `templates:` key)
 * with tool lists as comma-separated strings; both are read as ours. An empty file has no templates.
 */
function normalized(raw: unknown): { data: unknown; seedForm: boolean } {
  if (raw === null || raw === undefined) return { data: { templates: {} }, seedForm: false };
  const isMapping = typeof raw === 'object' && !Array.isArray(raw);
  const seedForm = isMapping && !Object.hasOwn(raw, 'templates');
  const data = (seedForm ? { templates: raw } : raw) as { templates?: unknown };
  const profiles = data.templates;
  if (profiles && typeof profiles === 'object' && !Array.isArray(profiles)) {
    for (const profile of Object.values(profiles as Record<string, unknown>)) {
      if (!profile || typeof profile !== 'object') continue;
      const p = profile as Record<string, unknown>;
      for (const key of TOOL_LISTS) {
        const value = p[key];
        if (typeof value === 'string') p[key] = commaList(value);
      }
    }
  }
  return { data, seedForm };
}

/** The allowed values of the union of literals at a schema path (`#/properties/…`), if that is what it is. */
function choicesAt(schemaPath: string): string[] | undefined {
  let node: unknown = TemplateFile;
  for (const segment of pointerSegments(schemaPath.replace(/^#/, '')))
    node = (node as Record<string, unknown> | undefined)?.[segment];
  const branches = (node as { anyOf?: Array<{ const?: unknown }> } | undefined)?.anyOf;
  if (!branches?.every((b) => b.const !== undefined)) return undefined;
  return branches.map((b) => String(b.const));
}

function sortIssues(issues: TemplateIssue[]): TemplateIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.column - b.column);
}

/** JSON pointer → path segments (`/templates/a~1b` → ['templates', 'a/b']). */
function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Where in the text a value (or, with `key`, one key of a mapping) starts; falls back to the nearest ancestor. */
function offsetOf(doc: Document, segments: string[], key?: string): number | undefined {
  for (let n = segments.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true)) as Node | null | undefined;
    if (!node) continue;
    if (key !== undefined && n === segments.length && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
      const keyNode = pair?.key as Node | undefined;
      if (keyNode?.range) return keyNode.range[0];
    }
    if (node.range) return node.range[0];
  }
  return 0;
}
