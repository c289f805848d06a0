// Unit tests of the template registry: user files override by name, reloads keep the old set on failure, the watcher, operator limits.
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { TemplateFileError } from '../../src/templates/parse.js';
import { TemplateRegistry, type Template, type TemplateRegistryOptions } from '../../src/templates/registry.js';

const log = pino({ level: 'silent' });
let dir: string;
let open: TemplateRegistry[] = [];

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'cca-templates-')));
});

afterEach(() => {
  for (const r of open) r.close();
  open = [];
  rmSync(dir, { recursive: true, force: true });
});

async function registry(
  opts: Partial<TemplateRegistryOptions> = {},
  env: Record<string, string> = {},
): Promise<TemplateRegistry> {
  const r = await TemplateRegistry.open({
    claude: loadConfig({ LOG_LEVEL: 'silent', ...env }).claude,
    log,
    debounceMs: 30,
    ...opts,
  });
  open.push(r);
  return r;
}

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('TemplateRegistry', () => {
  it('loads the shipped templates when there is no TEMPLATES_PATH', async () => {
    const r = await registry();
    expect(r.list()).toHaveLength(12);
    expect(r.get('debug')).toMatchObject({ name: 'debug', source: 'builtin', warnings: [] });
    expect(r.get('nope')).toBeUndefined();
  });

  it('adds user templates and replaces shipped ones by name', async () => {
    const file = write(
      'mine.yaml',
      'templates:\n  docs:\n    description: our docs style\n    max_turns: 3\n  release:\n    effort: low\n',
    );
    const r = await registry({ userPath: file });
    expect(r.list()).toHaveLength(13);
    expect(r.get('docs')).toMatchObject({ source: 'user', profile: { description: 'our docs style', max_turns: 3 } });
    // A replacement is whole: nothing of the shipped profile is kept.
    expect(r.get('docs')!.profile.system_prompt).toBeUndefined();
    expect(r.get('release')).toMatchObject({ source: 'user', profile: { effort: 'low' } });
  });

  it('reads a folder of YAML files in name order, later files winning, skipping other and hidden files', async () => {
    const folder = join(dir, 'templates.d');
    mkdirSync(folder);
    writeFileSync(join(folder, '10-base.yaml'), 'templates:\n  team:\n    model: model-a\n');
    writeFileSync(join(folder, '20-override.yml'), 'templates:\n  team:\n    model: model-b\n');
    writeFileSync(join(folder, 'notes.txt'), 'not yaml: [');
    writeFileSync(join(folder, '.swap.yaml'), 'broken: [');
    const r = await registry({ userPath: folder });
    expect(r.get('team')!.profile.model).toBe('model-b');
  });

  it('refuses to open with an invalid or missing file, naming it', async () => {
    const bad = write('bad.yaml', 'templates:\n  a:\n    effort: 9\n');
    await expect(registry({ userPath: bad })).rejects.toThrow(
      `${bad} line 3, column 13: templates.a.effort must be one of`,
    );
    await expect(registry({ userPath: join(dir, 'missing.yaml') })).rejects.toThrow(
      /missing\.yaml .*TEMPLATES_PATH cannot be read \(ENOENT\)/,
    );
  });

  it('reload picks up a change; an invalid file is refused with its line and the previous set stays', async () => {
    const file = write('mine.yaml', 'templates:\n  one:\n    max_turns: 1\n');
    const r = await registry({ userPath: file });
    write('mine.yaml', 'templates:\n  one:\n    max_turns: 2\n  two: {}\n');
    await r.reload();
    expect(r.get('one')!.profile.max_turns).toBe(2);
    expect(r.get('two')).toMatchObject({ name: 'two' });

    write('mine.yaml', 'templates:\n  one:\n    max_turns: 3\n  three:\n    colour: red\n');
    const failed = once(r, 'reload-failed');
    const err = await r.reload().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemplateFileError);
    expect((err as TemplateFileError).issues).toEqual([
      { file, line: 5, column: 5, path: 'templates.three.colour', message: '"colour" is not a known key' },
    ]);
    expect((await failed)[0]).toBe(err);
    expect(r.get('one')!.profile.max_turns).toBe(2);
    expect(r.get('three')).toBeUndefined();
    expect(r.get('two')).toMatchObject({ name: 'two' });
  });

  it('the watcher reloads after a change, also when an editor saves by rename, and keeps the old set on a bad save', async () => {
    const file = write('mine.yaml', 'templates:\n  w:\n    model: first\n');
    const r = await registry({ userPath: file });
    r.watch();

    let reloaded = once(r, 'reloaded');
    write('mine.yaml', 'templates:\n  w:\n    model: second\n');
    await reloaded;
    expect(r.get('w')!.profile.model).toBe('second');

    reloaded = once(r, 'reloaded');
    write('.mine.yaml.tmp', 'templates:\n  w:\n    model: third\n');
    renameSync(join(dir, '.mine.yaml.tmp'), file);
    await reloaded;
    expect(r.get('w')!.profile.model).toBe('third');

    const failed = once(r, 'reload-failed');
    write('mine.yaml', 'templates:\n  w:\n    model: [fourth\n');
    const [err] = (await failed) as [TemplateFileError];
    expect(err.issues[0]!.file).toBe(file);
    expect(err.issues[0]!.line).toBeGreaterThanOrEqual(3);
    expect(r.get('w')!.profile.model).toBe('third');
  });

  it('the watcher of a folder sees a new file', async () => {
    const folder = join(dir, 'many');
    mkdirSync(folder);
    const r = await registry({ userPath: folder });
    r.watch();
    const reloaded = once(r, 'reloaded');
    writeFileSync(join(folder, 'new.yaml'), 'templates:\n  fresh: {}\n');
    const [list] = (await reloaded) as [Template[]];
    expect(list.map((t) => t.name)).toContain('fresh');
  });

  it("narrows tools to the operator's and flags a permission mode the operator does not allow", async () => {
    const file = write(
      'mine.yaml',
      'templates:\n  wide:\n    allowed_tools: [Read, Bash, WebFetch]\n    permission_mode: plan\n    model: opus\n    max_turns: 40\n',
    );
    const r = await registry(
      { userPath: file },
      {
        CLAUDE_ALLOWED_TOOLS: 'Read,Glob,Grep,Bash',
        CLAUDE_ALLOWED_PERMISSION_MODES: 'default,acceptEdits',
        CLAUDE_ALLOWED_MODELS: 'sonnet',
        CLAUDE_MAX_TURNS_LIMIT: '10',
        CLAUDE_MAX_TURNS: '10',
      },
    );
    const wide = r.get('wide')!;
    expect(wide.profile).toEqual({
      allowed_tools: ['Read', 'Bash'],
      permission_mode: 'plan',
      model: 'opus',
      max_turns: 40,
    });
    expect(wide.warnings).toHaveLength(4);
    expect(wide.warnings[0]).toContain('WebFetch');
    expect(wide.warnings.slice(1).join('\n')).toMatch(
      /permission mode plan is not allowed.*must set its own permission_mode/,
    );
    expect(wide.warnings.slice(1).join('\n')).toMatch(/model opus is not allowed.*must set its own model/);
    expect(wide.warnings.slice(1).join('\n')).toMatch(/max_turns may be at most 10.*must set its own max_turns/);
    // The shipped architect is in plan mode too (and asks for 30 turns); reviewers lose nothing.
    expect(r.get('architect')!.warnings).toHaveLength(2);
    expect(r.get('code-reviewer')!.warnings).toHaveLength(1);
    expect(r.get('code-reviewer')!.profile.allowed_tools).toEqual(['Read', 'Glob', 'Grep']);
    expect(r.get('devops')!.profile.allowed_tools).toEqual(['Read', 'Glob', 'Grep', 'Bash']);
  });
});
