// Hostile spellings of tool paths through the real CLI: white space, `~`, `~user`, `$VAR`, `file://`, globs, `..`, /proc/self, look-alikes, other sessions and tenants. Each is denied with its reason in the turn's denials, and nothing outside reaches the model or changes.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { createSession } from '../support/sessions.js';
import type { Step } from '../support/model-server.js';
import { KEYS } from '../support/server.js';

const ctx = useTestServer();
const SECRET = 'OUTSIDE-SECRET-CONTENT';
const OTHER = 'OTHER-SESSION-CONTENT';
const TENANT = 'OTHER-TENANT-CONTENT';
let ws: string;
let outside: string;
let sibling: string;
let foreign: string;

interface Denial {
  tool: string;
  input: Record<string, unknown>;
  reason: string;
}

/** Runs the calls as one scripted turn; answers its denials and what the model was sent back. */
async function turn(match: string, calls: Array<[string, Record<string, unknown>]>) {
  const steps: Step[] = calls.map(([name, input]) => ({ tool: { name, input } }));
  ctx.model.script({ match, steps: [...steps, { text: `finished ${match}` }] });
  const res = await ctx.t.request('/api/v1/sessions/alpha/chat', { method: 'POST', json: { message: match } });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  const seen = ctx.model
    .mainRequests()
    .filter((r) => r.prompt?.includes(match) && (r.step ?? 0) > 0)
    .map((r) => JSON.stringify(r.body.messages.at(-1)))
    .join('\n');
  return { denials: body.data.denials as Denial[], seen };
}

beforeAll(async () => {
  ws = (await createSession(ctx.t, 'alpha')).workspace;
  sibling = (await createSession(ctx.t, 'beta')).workspace;
  foreign = (await createSession(ctx.t, 'gamma', {}, KEYS[1])).workspace;
  outside = join(ctx.t.dirs.root, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), `${SECRET}\n`);
  writeFileSync(join(sibling, 'beta.txt'), `${OTHER}\n`);
  writeFileSync(join(foreign, 'gamma.txt'), `${TENANT}\n`);
  writeFileSync(join(ws, 'inside.txt'), 'INSIDE\n');
});

describe('white space around a path (Claude Code trims it)', () => {
  it('Grep and Glob with a path starting with white space are denied, and nothing outside is found', async () => {
    const { denials, seen } = await turn('leading-space', [
      ['Grep', { pattern: 'SECRET', path: ` ${outside}`, output_mode: 'content' }],
      ['Grep', { pattern: 'CONTENT', path: `\t${sibling}`, output_mode: 'content' }],
      ['Glob', { pattern: '*.txt', path: `  ${outside}` }],
      ['Glob', { pattern: ` ${outside}/*.txt` }],
      ['Glob', { pattern: '*.txt', path: `${foreign} ` }],
    ]);
    expect(denials.map((d) => d.tool)).toEqual(['Grep', 'Grep', 'Glob', 'Glob', 'Glob']);
    for (const d of denials) expect(d.reason).toContain('Access denied by the workspace policy');
    expect(seen).not.toMatch(new RegExp(`${SECRET}|${OTHER}|${TENANT}|secret\\.txt|beta\\.txt|gamma\\.txt`));
  });

  it('Read, Edit, Write and NotebookEdit with white space around an outside path are denied; nothing changes', async () => {
    const { denials, seen } = await turn('space-file-tools', [
      ['Read', { file_path: ` ${outside}/secret.txt` }],
      ['Edit', { file_path: `  ${outside}/secret.txt`, old_string: 'OUTSIDE', new_string: 'EDITED' }],
      ['Write', { file_path: `${outside}/new.txt `, content: 'x' }],
      ['NotebookEdit', { notebook_path: ` ${outside}/n.ipynb`, new_source: 'x', cell_id: 'a', edit_mode: 'insert' }],
    ]);
    // Claude Code refuses the Edit and NotebookEdit of a file never read before the hook is asked; the guard the rest.
    expect(denials.map((d) => d.tool)).toEqual(expect.arrayContaining(['Read', 'Write']));
    expect(seen.match(/is_error/g)?.length).toBe(4);
    expect(seen).not.toContain(SECRET);
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe(`${SECRET}\n`);
  });
});

describe('spellings the hook cannot read with certainty', () => {
  it('`~user`, `$HOME`, `${VAR}`, `$(…)` and `file://` are denied with the reason where the hook sees them raw', async () => {
    const { denials } = await turn('ambiguous', [
      ['Grep', { pattern: 'x', path: '~root' }],
      ['Read', { file_path: '$HOME/.bashrc' }],
      ['Read', { file_path: '${HOME}/x' }],
      ['Grep', { pattern: 'x', path: '$(pwd)/..' }],
      ['Glob', { pattern: '*', path: `file://${outside}` }],
      ['Glob', { pattern: '~/*' }],
    ]);
    expect(denials.map((d) => d.reason)).toEqual([
      expect.stringContaining('~user'),
      expect.stringContaining('shell variable'),
      expect.stringContaining('shell variable'),
      expect.stringContaining('shell variable'),
      expect.stringContaining('URL'),
      expect.stringContaining('`~`'),
    ]);
  });

  it('Read of `~user/…` and `file://…`: Claude Code itself makes them names inside the workspace, which do not exist', async () => {
    const { denials, seen } = await turn('literal-names', [
      ['Read', { file_path: '~root/.bashrc' }],
      ['Read', { file_path: `file://${outside}/secret.txt` }],
    ]);
    expect(denials).toEqual([]);
    expect(seen.match(/File does not exist/g)).toHaveLength(2);
    expect(seen).not.toContain(SECRET);
  });

  it('`..` left in a search path or pattern, /proc/self/cwd and /proc/self/root, and other sessions are denied', async () => {
    const { denials, seen } = await turn('climbs', [
      ['Grep', { pattern: 'CONTENT', path: `${ws}/../beta`, output_mode: 'content' }],
      ['Glob', { pattern: '../*/*.txt' }],
      ['Glob', { pattern: '*/../../*/*.txt' }],
      ['Grep', { pattern: 'CONTENT', glob: '../beta/*', output_mode: 'content' }],
      ['Read', { file_path: '/proc/self/root/etc/hostname' }],
      ['Read', { file_path: '/proc/self/cwd/../beta/beta.txt' }],
      ['Grep', { pattern: 'CONTENT', path: '/proc/self/cwd/..', output_mode: 'content' }],
      ['Read', { file_path: `${dirname(foreign)}/gamma/gamma.txt` }],
      ['Glob', { pattern: `${dirname(ws)}/*/beta.txt` }],
      ['Read', { file_path: `//${sibling.slice(1)}/beta.txt` }],
    ]);
    expect(denials).toHaveLength(10);
    expect(seen).not.toMatch(new RegExp(`${OTHER}|${TENANT}|beta\\.txt\\n|gamma\\.txt\\n`));
    expect(seen).not.toContain(readFileSync('/etc/hostname', 'utf8').trim() + '\\n');
  });

  it('NUL, very long paths and look-alike dots and slashes never reach outside', async () => {
    const { denials, seen } = await turn('odd-spellings', [
      ['Read', { file_path: `${outside}/secret.txt\u0000.png` }],
      ['Read', { file_path: `${'a/'.repeat(2100)}x` }],
      ['Grep', { pattern: 'SECRET', path: `${'b'.repeat(300)}/..`, output_mode: 'content' }],
      ['Read', { file_path: '\u2024\u2024/outside/secret.txt' }],
      ['Glob', { pattern: '\uFF0E\uFF0E\uFF0Foutside\uFF0F*' }],
      ['Grep', { pattern: 'SECRET', path: '..\u2215..\u2215outside', output_mode: 'content' }],
    ]);
    // Each call failed: denied by the guard, refused by Claude Code itself (NUL), or a literal name that is not there.
    expect(seen.match(/is_error/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
    expect(seen).toContain('cannot contain null bytes');
    expect(seen).toContain('takes at most 4096');
    expect(denials.map((d) => [d.tool, d.reason])).toContainEqual([
      'Grep',
      expect.stringContaining("climbs with '..'"),
    ]);
    expect(seen).not.toContain(SECRET);
  });

  it('odd spellings that stay inside still work: //, /./, a trailing /. and trimmed white space', async () => {
    const { denials, seen } = await turn('inside-odd', [
      ['Read', { file_path: `${ws}//inside.txt` }],
      ['Read', { file_path: ` ${ws}/./inside.txt ` }],
      ['Grep', { pattern: 'INSIDE', path: `${ws}/.`, output_mode: 'content' }],
      ['Glob', { pattern: '*.txt', path: ` ${ws}` }],
    ]);
    expect(denials).toEqual([]);
    expect(seen.match(/INSIDE/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
  });
});
