// Unit tests of a templates file: the shipped profiles, and every kind of invalid file refused with its line and column.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTemplateFile, TemplateFileError, type TemplateIssue } from '../../src/templates/parse.js';
import { BUILTIN_TEMPLATES_FILE } from '../../src/templates/registry.js';

const SHIPPED = [
  'code-reviewer',
  'devops',
  'refactor',
  'test-writer',
  'docs',
  'debug',
  'architect',
  'security',
  'performance',
  'api-designer',
  'data-engineer',
  'frontend',
];

function issuesOf(text: string): TemplateIssue[] {
  try {
    parseTemplateFile(text, 'user.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(TemplateFileError);
    return (err as TemplateFileError).issues;
  }
  throw new Error('the file was accepted');
}

describe('the shipped templates file', () => {
  const templates = parseTemplateFile(readFileSync(BUILTIN_TEMPLATES_FILE, 'utf8'), 'default.yaml');

  it('holds the twelve profiles, each with a description and a system prompt of its own', () => {
    expect([...templates.keys()].sort()).toEqual([...SHIPPED].sort());
    const prompts = new Set<string>();
    for (const [name, t] of templates) {
      expect(t.description, name).toMatch(/\w{3}/);
      expect(t.system_prompt!.length, name).toBeGreaterThan(200);
      prompts.add(t.system_prompt!);
    }
    expect(prompts.size).toBe(12);
  });

  it('keeps the reviewers read-only and the architect in plan mode', () => {
    expect(templates.get('code-reviewer')!.allowed_tools).toEqual(['Read', 'Glob', 'Grep']);
    expect(templates.get('security')!.allowed_tools).toEqual(['Read', 'Glob', 'Grep']);
    expect(templates.get('architect')).toMatchObject({
      permission_mode: 'plan',
      allowed_tools: ['Read', 'Glob', 'Grep'],
    });
  });
});

describe("the Python seed's templates file", () => {
  const SEED_FILE = join(import.meta.dirname, '../fixtures/seed/templates.yml');

  it('loads unchanged: a top-level map of name → profile, each with its system prompt and effort', () => {
    const profiles = parseTemplateFile(readFileSync(SEED_FILE, 'utf8'), SEED_FILE);
    expect([...profiles.keys()].sort()).toEqual([...SHIPPED].sort());
    for (const p of profiles.values()) {
      expect(Object.keys(p).sort()).toEqual(['effort', 'system_prompt']);
      expect(p.system_prompt!.length).toBeGreaterThan(40);
    }
    expect(profiles.get('test-writer')!.effort).toBe('medium');
  });

  it('reads tool lists written as comma-separated strings, in either form of file', () => {
    const seed = parseTemplateFile('ro:\n  allowed_tools: "Read, Grep,Glob"\n  disallowed_tools: Bash\n', 'seed.yml');
    expect(seed.get('ro')).toEqual({ allowed_tools: ['Read', 'Grep', 'Glob'], disallowed_tools: ['Bash'] });
    const ours = parseTemplateFile('templates:\n  ro:\n    allowed_tools: Read,Grep\n', 'ours.yaml');
    expect(ours.get('ro')).toEqual({ allowed_tools: ['Read', 'Grep'] });
  });

  it('refuses a bad seed file with the line, column and path of each problem (no `templates.` prefix)', () => {
    const issues = issuesOf('code-reviewer:\n  system_prompt: fine\n  effort: huge\nother:\n  max_turns: many\n');
    expect(issues).toMatchObject([
      { line: 3, column: 11, path: 'code-reviewer.effort', message: 'must be one of low, medium, high, xhigh, max' },
      { line: 5, column: 14, path: 'other.max_turns', message: 'must be integer' },
    ]);
    expect(issuesOf('\n\ntemplate:\n  a: {}\n')).toMatchObject([
      { line: 4, column: 3, path: 'template.a', message: '"a" is not a known key' },
    ]);
  });
});

describe('parseTemplateFile', () => {
  it('accepts every field a profile may set', () => {
    const text = [
      'templates:',
      '  full:',
      '    description: all of it',
      '    system_prompt: be brief',
      '    model: claude-x',
      '    effort: xhigh',
      '    max_turns: 7',
      '    allowed_tools: [Read, Grep]',
      '    disallowed_tools: [Bash]',
      '    permission_mode: default',
      '  empty: {}',
    ].join('\n');
    const t = parseTemplateFile(text, 'user.yaml');
    expect(t.get('full')).toEqual({
      description: 'all of it',
      system_prompt: 'be brief',
      model: 'claude-x',
      effort: 'xhigh',
      max_turns: 7,
      allowed_tools: ['Read', 'Grep'],
      disallowed_tools: ['Bash'],
      permission_mode: 'default',
    });
    expect(t.get('empty')).toEqual({});
  });

  it('treats an empty file as no templates', () => {
    expect(parseTemplateFile('# nothing yet\n', 'user.yaml').size).toBe(0);
  });

  it('refuses an unknown key, pointing at the key itself', () => {
    const issues = issuesOf('templates:\n  a:\n    effort: low\n    maxturns: 3\n');
    expect(issues).toEqual([
      { file: 'user.yaml', line: 4, column: 5, path: 'templates.a.maxturns', message: '"maxturns" is not a known key' },
    ]);
  });

  it('refuses an unknown top-level key beside `templates:`', () => {
    const issues = issuesOf('templates: {}\n\nextra: 1\n');
    expect(issues).toMatchObject([
      { line: 3, path: 'extra', message: '"extra" is not a known key (expected `templates:`)' },
    ]);
  });

  it('takes permission rules, and refuses an unknown or malformed one at its line', () => {
    const ok = parseTemplateFile(
      'templates:\n  a:\n    permission_rules:\n      ask: [Bash, "Write(src/**)"]\n',
      'u.yaml',
    );
    expect(ok.get('a')?.permission_rules).toEqual({ ask: ['Bash', 'Write(src/**)'] });
    const issues = issuesOf('templates:\n  a:\n    permission_rules:\n      deny:\n        - Read\n        - Rea\n');
    expect(issues).toEqual([
      expect.objectContaining({
        line: 6,
        path: 'templates.a.permission_rules.deny.1',
        message: 'rule "Rea": unknown tool Rea',
      }),
    ]);
  });

  it('refuses a wrong type, naming the line of the value', () => {
    const issues = issuesOf('templates:\n  a:\n    description: fine\n  b:\n    max_turns: "ten"\n');
    expect(issues).toEqual([
      { file: 'user.yaml', line: 5, column: 16, path: 'templates.b.max_turns', message: 'must be integer' },
    ]);
  });

  it('refuses a value out of range and a tool list that is not a list', () => {
    const issues = issuesOf('templates:\n  a:\n    max_turns: 0\n  b:\n    allowed_tools: 3\n');
    expect(issues.map((i) => [i.line, i.path, i.message])).toEqual([
      [3, 'templates.a.max_turns', 'must be >= 1'],
      [5, 'templates.b.allowed_tools', 'must be array'],
    ]);
  });

  it('names the allowed values of effort and permission_mode', () => {
    const [issue] = issuesOf('templates:\n  a:\n    effort: huge\n');
    expect(issue).toMatchObject({
      line: 3,
      path: 'templates.a.effort',
      message: 'must be one of low, medium, high, xhigh, max',
    });
    const [mode] = issuesOf('templates:\n  a:\n    permission_mode: yolo\n');
    expect(mode).toMatchObject({ line: 3, path: 'templates.a.permission_mode' });
    expect(mode!.message).toContain('bypassPermissions');
  });

  it('refuses a profile that is not a mapping', () => {
    expect(issuesOf('templates:\n  a: 3\n')).toMatchObject([
      { line: 2, path: 'templates.a', message: 'must be object' },
    ]);
  });

  it('refuses a name that could not be a template name', () => {
    expect(issuesOf('templates:\n  ok: {}\n  "../evil": {}\n')).toMatchObject([
      { line: 3, column: 3, path: 'templates.../evil' },
    ]);
  });

  it('refuses YAML syntax errors and duplicate names with their line', () => {
    const [syntax] = issuesOf('templates:\n  a:\n    allowed_tools: [Read, Grep\n  b: {}\n');
    expect(syntax!.line).toBeGreaterThanOrEqual(3);
    expect(syntax!.message).not.toMatch(/at line/);
    const [dup] = issuesOf('templates:\n  a: {}\n  b: {}\n  a: {}\n');
    expect(dup).toMatchObject({ line: 4, column: 3, message: 'Map keys must be unique' });
  });

  it('says the file, line and column in the error message', () => {
    try {
      parseTemplateFile('templates:\n  a:\n    model: 3\n', '/etc/cca/templates.yaml');
      throw new Error('accepted');
    } catch (err) {
      expect((err as Error).message).toBe(
        '/etc/cca/templates.yaml line 3, column 12: templates.a.model must be string',
      );
    }
  });
});
