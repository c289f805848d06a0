// The workspace guard on real folders: paths read as Claude Code reads them (trim, ~, NFC, ..), symlinks (dangling, looping), globs, the anchored root, other tools, hook answers.
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkspaceGuard } from '../../src/engine/workspace-guard.js';
import { expandBraces, pathsOf, readPath } from '../../src/engine/tool-paths.js';
import { openAnchored } from '../../src/workspace/session-dirs.js';

let root: string;
let ws: string;
let outside: string;
let extra: string;
let guard: WorkspaceGuard;

beforeAll(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'cca-guard-')));
  ws = join(root, 'ws');
  outside = join(root, 'outside');
  extra = join(root, 'tmp-extra');
  for (const d of [join(ws, 'sub', 'deeper'), outside, extra, join(root, 'other-session')])
    mkdirSync(d, { recursive: true });
  writeFileSync(join(ws, 'file.txt'), 'inside');
  writeFileSync(join(outside, 'secret.txt'), 'outside');
  symlinkSync('/etc', join(ws, 'link-etc'));
  symlinkSync(join(outside, 'secret.txt'), join(ws, 'link-secret'));
  symlinkSync(join(outside, 'not-yet.txt'), join(ws, 'dangling-out'));
  symlinkSync(join(ws, 'sub'), join(ws, 'link-sub'));
  symlinkSync('loop', join(ws, 'loop'));
  guard = new WorkspaceGuard({ workingDir: ws, home: join(root, 'home'), extraRoots: [extra] });
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

const allowed = async (tool: string, input: unknown, cwd?: string) => (await guard.check(tool, input, cwd)).allow;

describe('file tools', () => {
  it('allows paths inside the working directory, relative or absolute, existing or not', async () => {
    expect(await allowed('Read', { file_path: 'file.txt' })).toBe(true);
    expect(await allowed('Read', { file_path: join(ws, 'file.txt') })).toBe(true);
    expect(await allowed('Write', { file_path: 'new/dir/file.txt', content: 'x' })).toBe(true);
    expect(await allowed('Edit', { file_path: './sub//deeper/./', old_string: 'a', new_string: 'b' })).toBe(true);
    expect(await allowed('Read', { file_path: 'link-sub/deeper' })).toBe(true);
    expect(await allowed('Read', { file_path: ws })).toBe(true);
  });

  it('denies absolute paths outside, .. escapes and home paths', async () => {
    expect(await allowed('Read', { file_path: '/etc/passwd' })).toBe(false);
    expect(await allowed('Write', { file_path: '../../escape', content: 'x' })).toBe(false);
    expect(await allowed('Read', { file_path: 'sub/../../outside/secret.txt' })).toBe(false);
    expect(await allowed('Read', { file_path: '~/.ssh/id_rsa' })).toBe(false);
    expect(await allowed('MultiEdit', { file_path: join(outside, 'secret.txt'), edits: [] })).toBe(false);
    expect(await allowed('NotebookEdit', { notebook_path: '/tmp/x.ipynb', new_source: '' })).toBe(false);
    expect(await allowed('LS', { path: '/' })).toBe(false);
    expect(await allowed('Read', { file_path: 'file.txt\0/etc/passwd' })).toBe(false);
  });

  it('refuses every `..` (Claude Code normalises its own file paths before the hook; a raw one is not followed)', async () => {
    expect(await allowed('Edit', { file_path: './sub/../file.txt', old_string: 'a', new_string: 'b' })).toBe(false);
    expect(await allowed('Grep', { pattern: 'x', path: 'sub/..' })).toBe(false);
  });

  it('follows symlinks: to a folder, to a file, dangling, looping, and .. after a link', async () => {
    expect(await allowed('Read', { file_path: 'link-etc/passwd' })).toBe(false);
    expect(await allowed('Read', { file_path: 'link-secret' })).toBe(false);
    expect(await allowed('Write', { file_path: 'dangling-out', content: 'x' })).toBe(false);
    expect(await allowed('Write', { file_path: 'link-etc/new-file', content: 'x' })).toBe(false);
    expect(await allowed('Read', { file_path: 'loop' })).toBe(false);
    // Lexically ws/ws/file.txt (inside); the kernel climbs from /etc: /ws/file.txt (outside).
    expect(await allowed('Read', { file_path: 'link-etc/../ws/file.txt' })).toBe(false);
  });

  it("also resolves relative paths against the CLI's current directory when it moved", async () => {
    expect(await allowed('Read', { file_path: 'passwd' }, '/etc')).toBe(false);
    expect(await allowed('Read', { file_path: 'file.txt' }, ws)).toBe(true);
    expect(await allowed('Grep', { pattern: 'root' }, '/etc')).toBe(false);
    expect(await allowed('Glob', { pattern: '*' }, '/etc')).toBe(false);
    expect(await allowed('Grep', { pattern: 'x' }, join(ws, 'sub'))).toBe(true);
  });

  it('lets the session use its extra folders (its CLI temp folder)', async () => {
    expect(await allowed('Read', { file_path: join(extra, 'tasks', 'x.output') })).toBe(true);
    expect(await allowed('Read', { file_path: join(root, 'other-session', 'x') })).toBe(false);
  });

  it('leaves out an extra folder swapped for a link (to /): it does not widen what the session may use', async () => {
    const tmp = join(root, 'tmp-swapped');
    mkdirSync(tmp);
    const g = new WorkspaceGuard({ workingDir: ws, extraRoots: [tmp] });
    expect((await g.check('Read', { file_path: join(tmp, 'x') })).allow).toBe(true);
    rmSync(tmp, { recursive: true });
    symlinkSync('/', tmp);
    expect((await g.check('Read', { file_path: join(tmp, 'etc', 'passwd') })).allow).toBe(false);
    expect((await g.check('Read', { file_path: '/etc/passwd' })).allow).toBe(false);
    expect((await g.check('Read', { file_path: 'file.txt' })).allow).toBe(true);
  });

  it('says why, naming the tool, the field and the working directory', async () => {
    const d = await guard.check('Read', { file_path: 'link-secret' });
    expect(d.allow).toBe(false);
    if (d.allow) return;
    expect(d.reason).toContain('Read file_path "link-secret"');
    expect(d.reason).toContain("symbolic link 'link-secret'");
    expect(d.reason).toContain(ws);
  });
});

describe('Glob and Grep', () => {
  it('checks the search folder and the fixed part of the pattern', async () => {
    expect(await allowed('Glob', { pattern: '**/*.ts' })).toBe(true);
    expect(await allowed('Glob', { pattern: 'sub/**/*', path: ws })).toBe(true);
    expect(await allowed('Glob', { pattern: '/*' })).toBe(false);
    expect(await allowed('Glob', { pattern: '*', path: '/' })).toBe(false);
    expect(await allowed('Glob', { pattern: '/etc/*' })).toBe(false);
    expect(await allowed('Glob', { pattern: '../outside/*' })).toBe(false);
    expect(await allowed('Glob', { pattern: 'link-etc/*' })).toBe(false);
    expect(await allowed('Grep', { pattern: 'x', path: join(root, 'other-session') })).toBe(false);
    expect(await allowed('Grep', { pattern: 'x' })).toBe(true);
    expect(await allowed('Grep', { pattern: 'root', path: 'sub', glob: '*.md' })).toBe(true);
  });

  it('refuses .. after a wildcard and brace alternatives that leave', async () => {
    expect(await allowed('Glob', { pattern: 'sub/*/../../../outside/*' })).toBe(false);
    expect(await allowed('Glob', { pattern: '{/etc,sub}/*' })).toBe(false);
    expect(await allowed('Glob', { pattern: '{sub,link-sub}/*.md' })).toBe(true);
    expect(await allowed('Glob', { pattern: '{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}' })).toBe(false);
  });

  it('expands braces, nested ones too', () => {
    expect(expandBraces('a{b,c{d,e}}f')).toEqual(['abf', 'acdf', 'acef']);
    expect(expandBraces('no-braces')).toEqual(['no-braces']);
    expect(expandBraces('unmatched{x')).toEqual(['unmatched{x']);
  });
});

describe('other tools', () => {
  it('checks path-like fields of any tool (MCP …) and leaves the rest alone', async () => {
    expect(await allowed('mcp__fs__read', { file_path: '/etc/passwd' })).toBe(false);
    expect(await allowed('mcp__fs__read_many', { paths: ['file.txt', '/etc/hosts'] })).toBe(false);
    expect(await allowed('mcp__fs__read_many', { paths: ['file.txt'] })).toBe(true);
    expect(await allowed('WebFetch', { url: 'https://example.com/etc/passwd', prompt: 'x' })).toBe(true);
    expect(await allowed('TodoWrite', { todos: [] })).toBe(true);
    expect(pathsOf('Read', null)).toEqual([]);
  });

  it('leaves Bash to the sandbox, or refuses it with the reason when the sandbox cannot start', async () => {
    expect(await allowed('Bash', { command: 'cat /etc/passwd' })).toBe(true);
    const refusing = new WorkspaceGuard({ workingDir: ws, shellRefusal: 'no sandbox here' });
    expect(await refusing.check('Bash', { command: 'ls' })).toEqual({ allow: false, reason: 'no sandbox here' });
    expect((await refusing.check('Read', { file_path: 'file.txt' })).allow).toBe(true);
  });
});

describe('paths read as Claude Code reads them', () => {
  const outsideFile = () => join(outside, 'secret.txt');

  it('trims white space at both ends, as the CLI does, before judging', async () => {
    for (const spelling of [` ${outsideFile()}`, `${outsideFile()} `, `\t${outsideFile()}`, `\n ${outsideFile()}`])
      expect(await allowed('Read', { file_path: spelling }), JSON.stringify(spelling)).toBe(false);
    expect(await allowed('Grep', { pattern: 'x', path: ` ${outside}` })).toBe(false);
    expect(await allowed('Glob', { pattern: '*', path: `  ${outside}` })).toBe(false);
    expect(await allowed('Glob', { pattern: ` ${outside}/*` })).toBe(false);
    expect(await allowed('LS', { path: ' /' })).toBe(false);
    expect(await allowed('NotebookEdit', { notebook_path: ` ${outside}/n.ipynb`, new_source: '' })).toBe(false);
    expect(await allowed('Read', { file_path: ' file.txt ' })).toBe(true);
  });

  it('expands `~` and `~/` to HOME, and refuses `~user`, shell variables and URLs', async () => {
    expect(await allowed('Glob', { pattern: '*', path: '~' })).toBe(false);
    expect(await allowed('Read', { file_path: ' ~/x' })).toBe(false);
    for (const spelling of ['~root/.bashrc', '$HOME/x', '${HOME}/x', 'a/$(id)', `file://${outsideFile()}`, 'file:x'])
      expect(await guard.check('Read', { file_path: spelling }), spelling).toMatchObject({
        allow: false,
        reason: expect.stringMatching(/~user|shell variable|URL/),
      });
    expect(await allowed('Glob', { pattern: '~/*' })).toBe(false);
    expect(readPath('~', { cwd: ws })).toEqual({ refused: expect.stringContaining('no home') });
  });

  it('refuses /proc/self/cwd and /proc/self/root, odd spellings of the root and of outside paths', async () => {
    for (const spelling of [
      '/proc/self/cwd/file.txt',
      '/proc/self/root/etc/passwd',
      '/proc/1/root/etc/hostname',
      '//etc/hostname',
      '/./etc/hostname',
      '/etc/.',
      `${ws}-outside/x`,
      `${ws}/../outside/secret.txt`,
    ])
      expect(await allowed('Read', { file_path: spelling }), spelling).toBe(false);
  });

  it('accepts odd spellings that stay inside: //, /./, a trailing /., look-alike dots and slashes (literal names)', async () => {
    for (const spelling of [
      `${ws}//sub`,
      `${ws}/./sub/./deeper/.`,
      'sub//deeper',
      '\u2024\u2024/x',
      '..\u2215outside',
      '\uFF0E\uFF0E/x',
    ])
      expect(await allowed('Read', { file_path: spelling }), spelling).toBe(true);
  });

  it('judges both the NFC and the written form of a name', () => {
    const reading = readPath('cafe\u0301', { cwd: ws });
    expect(reading).toEqual({ paths: expect.arrayContaining([join(ws, 'caf\u00e9'), join(ws, 'cafe\u0301')]) });
  });

  it('refuses very long paths and NUL', async () => {
    expect(await allowed('Read', { file_path: `sub/${'a'.repeat(300)}` })).toBe(false);
    expect(await allowed('Write', { file_path: 'a/'.repeat(2100) + 'x', content: '' })).toBe(false);
    expect(await allowed('Glob', { pattern: 'x\0/*' })).toBe(false);
  });

  it('checks glob characters in a path field at their fixed folders, and Grep globs relative to their path', async () => {
    expect(await allowed('Grep', { pattern: 'x', path: `${outside}/*` })).toBe(false);
    expect(await allowed('Grep', { pattern: 'x', path: 'sub/*' })).toBe(true);
    expect(await allowed('Grep', { pattern: 'x', glob: `${outside}/*` })).toBe(false);
    expect(await allowed('Grep', { pattern: 'x', glob: '../outside/*' })).toBe(false);
    expect(await allowed('Grep', { pattern: 'x', path: 'sub', glob: '**/*.ts' })).toBe(true);
  });
});

describe('the root reopened by anchor', () => {
  it('denies every call once the working directory was swapped for a link or another folder', async () => {
    const dir = join(root, 'anchored');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.txt'), 'a');
    const made = await openAnchored(root, { path: dir, anchor: null }, 'the working directory');
    await made.dir.close();
    const anchored = new WorkspaceGuard({
      workingDir: dir,
      openRoot: async () => (await openAnchored(root, { path: dir, anchor: made.anchor }, 'the working directory')).dir,
    });
    expect((await anchored.check('Read', { file_path: 'a.txt' })).allow).toBe(true);
    renameSync(dir, `${dir}-moved`);
    symlinkSync('/', dir);
    await expect(anchored.check('Read', { file_path: join(dir, 'etc', 'hostname') })).rejects.toThrow(
      /no longer the folder made/,
    );
    rmSync(dir);
    mkdirSync(dir);
    await expect(anchored.check('Read', { file_path: 'a.txt' })).rejects.toThrow(/another folder now has the name/);
    const hook = anchored.hooks().PreToolUse![0]!.hooks[0]!;
    const answer = await hook(
      { hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: 'a.txt' }, cwd: dir } as never,
      'toolu_9',
      { signal: new AbortController().signal },
    );
    expect(answer).toMatchObject({ hookSpecificOutput: { permissionDecision: 'deny' } });
  });
});

describe('the PreToolUse hook', () => {
  const hookOf = (g: WorkspaceGuard) => g.hooks().PreToolUse![0]!;
  const input = (tool_name: string, tool_input: unknown) =>
    ({
      hook_event_name: 'PreToolUse',
      tool_name,
      tool_input,
      tool_use_id: 'toolu_1',
      session_id: 's',
      transcript_path: '',
      cwd: ws,
    }) as never;

  it('answers deny with the reason, tells listeners, and blocks on failure', async () => {
    const seen: unknown[] = [];
    const off = guard.onDenial((d) => seen.push(d));
    const matcher = hookOf(guard);
    expect(matcher.onFailure).toBe('block');
    expect(matcher.matcher).toBeUndefined();
    const signal = new AbortController().signal;
    const denied = await matcher.hooks[0]!(input('Read', { file_path: '/etc/passwd' }), 'toolu_1', { signal });
    expect(denied).toMatchObject({
      hookSpecificOutput: {
        hookEventName: 'PreToolUse',
        permissionDecision: 'deny',
        permissionDecisionReason: expect.stringContaining('/etc/passwd'),
      },
    });
    expect(seen).toEqual([
      expect.objectContaining({ tool: 'Read', tool_use_id: 'toolu_1', input: { file_path: '/etc/passwd' } }),
    ]);
    expect(await matcher.hooks[0]!(input('Read', { file_path: 'file.txt' }), 'toolu_2', { signal })).toEqual({});
    off();
  });

  it('denies when it cannot check (the working directory is gone)', async () => {
    const broken = new WorkspaceGuard({ workingDir: join(root, 'gone') });
    const out = await hookOf(broken).hooks[0]!(input('Read', { file_path: 'x' }), 'toolu_3', {
      signal: new AbortController().signal,
    });
    expect(out).toMatchObject({
      hookSpecificOutput: {
        permissionDecision: 'deny',
        permissionDecisionReason: expect.stringContaining('could not check'),
      },
    });
  });
});
