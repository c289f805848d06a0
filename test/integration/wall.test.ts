// The wall on its own (the workspace hook OFF): a scripted model tries escapes through Bash, Read, Write, Edit, Grep, Glob and NotebookEdit, and nothing outside its session is reached; no credential is inside.
import { existsSync, lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Step } from '../support/model-server.js';
import { useTestServer } from '../support/fixture.js';
import { plantHostileTree, type HostileTree } from '../support/hostile-tree.js';
import { KEYS } from '../support/server.js';
import { needs } from '../support/needs.js';

const REAL_KEY = 'sk-ant-REAL-KEY-FEEDFACE-0001';
const SECRETS = {
  ANTHROPIC_API_KEY: REAL_KEY,
  ADMIN_API_KEYS: 'admin-key-FAKE-ADMIN-SECRET-31337',
  MY_SERVICE_TOKEN: 'FAKE-SERVICE-TOKEN-8080',
};
/** Content planted where the session must never see it (written straight to disk or the database). */
const FOREIGN = [
  'OUTSIDE-FILE-CONTENT',
  'OTHER-TENANT-FILE-CONTENT',
  'OTHER-SESSION-FILE-CONTENT',
  'TRANSCRIPT-PLANTED-CONTENT',
  'SERVER-HOME-SECRET',
  'DATABASE-PLANTED-CONTENT',
  REAL_KEY,
  'FAKE-ADMIN-SECRET-31337',
  'FAKE-SERVICE-TOKEN-8080',
  ...KEYS,
];

/** The text of every tool result in these requests' messages (`newest`: in their last message only): what the tools gave the model. */
function toolResults(requests: Array<{ body: any }>, newest = false): string {
  const out = new Set<string>();
  for (const r of requests)
    for (const m of newest ? (r.body?.messages ?? []).slice(-1) : (r.body?.messages ?? []))
      if (Array.isArray(m.content))
        for (const b of m.content) if (b.type === 'tool_result') out.add(JSON.stringify(b.content));
  return [...out].join('\n');
}

const skip = await needs('the wall tests', 'wall');

describe.skipIf(skip !== undefined)('the wall holds with the workspace hook off', () => {
  const f = useTestServer({ NODE_ENV: 'test', TEST_WORKSPACE_HOOK_OFF: 'true' }, { cliEnv: SECRETS });
  let alpha: HostileTree['alpha'];
  let beta: HostileTree['beta'];
  let other: HostileTree['other'];
  let outside: string;
  let serverHome: string;

  /** Runs one scripted turn on session alpha; returns the result and what the model got back from the tools. */
  async function turn(match: string, steps: Step[]) {
    f.model.script({ match, steps: [...steps, { text: `finished ${match}` }] });
    const res = await f.t.request('/api/v1/sessions/alpha/chat', {
      method: 'POST',
      json: { message: `please ${match}` },
    });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    const seen = toolResults(
      f.model.mainRequests().filter((r) => r.prompt?.includes(match)),
      true,
    );
    return { data: body.data, seen };
  }

  const bash = (command: string): Step => ({ tool: { name: 'Bash', input: { command, description: 'escape' } } });
  const read = (file_path: string): Step => ({ tool: { name: 'Read', input: { file_path } } });

  beforeAll(async () => {
    ({ alpha, beta, other, outside } = await plantHostileTree(f.t, 'old.jsonl'));
    serverHome = f.t.cli.home;
    writeFileSync(join(serverHome, '.env'), 'SERVER-HOME-SECRET\n');
    await f.t.server.store.messages.insert({
      session_id: alpha.id,
      turn_id: 'planted',
      role: 'user',
      content: 'DATABASE-PLANTED-CONTENT',
    });
  });

  it('runs every session inside the wall and says so in health', async () => {
    const res = await f.t.request('/api/v1/health');
    const wall = (await res.json()).data.wall;
    expect(wall).toMatchObject({ enabled: true, available: true, reason: null });
    expect(wall.limits).toMatchObject({ memory_mb: 2048, max_processes: 4096, max_file_mb: 1024 });
    const { seen } = await turn('whoami', [
      bash('echo ns-$(readlink /proc/1/ns/pid); echo procs-$(ls -d /proc/[0-9]* | wc -l)'),
    ]);
    const own = /ns-(pid:\[\d+\])/.exec(seen)?.[1];
    expect(own).toMatch(/^pid:\[\d+\]$/);
    expect(own).not.toBe(readlinkSync('/proc/self/ns/pid'));
    // bwrap's init, the CLI, its shell and ls: a handful, never the host's processes
    expect(Number(/procs-(\d+)/.exec(seen)?.[1])).toBeLessThan(10);
  });

  it('Bash: other workspaces, the data dir, the database, the server home, old transcripts, secrets and host processes are not there', async () => {
    const db = join(f.t.dirs.data, 'claude-code-api.db');
    const { seen } = await turn('bash-look', [
      bash(
        [
          `cat ${outside}/secret.txt ${other.workspace}/tenant-b.txt ${beta.workspace}/beta.txt`,
          `ls -la ${f.t.dirs.workspaces} ${f.t.dirs.workspaces}/* ${f.t.dirs.data}`,
          `strings ${db} | head`,
          `cat ${serverHome}/.env ${f.t.cli.configDir}/projects/planted/old.jsonl`,
          `ls /proc/1/root${outside} /var/run/secrets /root /home`,
          'cat /etc/shadow; ps -ef; cat /proc/*/environ | tr "\\0" "\\n" | grep -i key',
          'env; cat /proc/self/environ | tr "\\0" "\\n"',
          'echo look-end',
        ].join('; ') + ' 2>&1',
      ),
    ]);
    expect(seen).toContain('look-end');
    for (const s of FOREIGN) expect(seen).not.toContain(s);
  });

  it('Bash: links to /, a sibling workspace and DATA_DIR lead nowhere', async () => {
    const { seen } = await turn('bash-links', [
      bash(
        [
          'ln -s / root-link',
          `python3 -c "import os; os.symlink('${beta.workspace}', 'sib-link')"`,
          // Named at run time: Claude Code's own command check refuses a command that names its config folder's parent.
          'ln -s "$(dirname "$(dirname "$CLAUDE_CONFIG_DIR")")" data-link',
          // The first escape of the issue: a sibling session's folder swapped for a link to /.
          `python3 -c "import os; os.rename('${beta.workspace}', '${beta.workspace}.old'); os.symlink('/', '${beta.workspace}')"`,
          `cat root-link${outside}/secret.txt sib-link/beta.txt; ls data-link/; ls root-link${f.t.dirs.workspaces}/*`,
          'echo links-end',
        ].join('; ') + ' 2>&1',
      ),
      read(`${alpha.workspace}/root-link${outside}/secret.txt`),
      read(`${alpha.workspace}/sib-link/beta.txt`),
      { tool: { name: 'Grep', input: { pattern: 'CONTENT', path: `${alpha.workspace}/root-link${f.t.dirs.root}` } } },
      { tool: { name: 'Glob', input: { pattern: '**/*.txt', path: `${alpha.workspace}/data-link` } } },
    ]);
    expect(seen).toContain('links-end');
    for (const s of FOREIGN) expect(seen).not.toContain(s);
    expect(lstatSync(beta.workspace).isDirectory()).toBe(true);
    expect(readFileSync(join(beta.workspace, 'beta.txt'), 'utf8')).toBe('OTHER-SESSION-FILE-CONTENT\n');
  });

  it('Read, Grep and Glob: absolute paths, .., a leading space, ~, $HOME, /proc/1/root, transcripts', async () => {
    const { seen } = await turn('file-tools', [
      read(join(outside, 'secret.txt')),
      read(`${alpha.workspace}/../beta/beta.txt`),
      read(` ${join(other.workspace, 'tenant-b.txt')}`),
      read('~/.env'),
      read('$HOME/.env'),
      read(`/proc/1/root${outside}/secret.txt`),
      read(`/proc/self/root${beta.workspace}/beta.txt`),
      read(join(f.t.cli.configDir, 'projects', 'planted', 'old.jsonl')),
      read('/etc/shadow'),
      read('/proc/self/environ'),
    ]);
    for (const s of FOREIGN) expect(seen).not.toContain(s);
  });

  it('Grep and Glob over the root, the workspaces folder and a leading-space path find nothing of others', async () => {
    const { seen } = await turn('search-tools', [
      { tool: { name: 'Grep', input: { pattern: 'CONTENT', path: ` ${f.t.dirs.root}`, output_mode: 'content' } } },
      { tool: { name: 'Grep', input: { pattern: 'CONTENT', path: '/', output_mode: 'content' } } },
      { tool: { name: 'Glob', input: { pattern: '**/*.txt', path: f.t.dirs.workspaces } } },
      { tool: { name: 'Glob', input: { pattern: `${f.t.dirs.root}/**/*` } } },
      { tool: { name: 'Glob', input: { pattern: '**/*.txt', path: '/' } } },
    ]);
    for (const s of [...FOREIGN, 'tenant-b.txt', 'beta.txt', 'secret.txt', 'old.jsonl']) expect(seen).not.toContain(s);
  });

  it('Write, Edit and NotebookEdit outside change nothing outside', async () => {
    const nb = JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 });
    writeFileSync(join(beta.workspace, 'nb.ipynb'), nb);
    await turn('write-tools', [
      { tool: { name: 'Write', input: { file_path: join(outside, 'pwned.txt'), content: 'PWNED' } } },
      { tool: { name: 'Write', input: { file_path: `${alpha.workspace}/../beta/pwned.txt`, content: 'PWNED' } } },
      { tool: { name: 'Write', input: { file_path: ` ${join(other.workspace, 'pwned.txt')}`, content: 'PWNED' } } },
      {
        tool: {
          name: 'Write',
          input: { file_path: `${alpha.workspace}/root-link${outside}/pwned2.txt`, content: 'X' },
        },
      },
      read(join(beta.workspace, 'beta.txt')),
      {
        tool: {
          name: 'Edit',
          input: { file_path: join(beta.workspace, 'beta.txt'), old_string: 'OTHER', new_string: 'EDITED' },
        },
      },
      {
        tool: {
          name: 'NotebookEdit',
          input: {
            notebook_path: join(beta.workspace, 'nb.ipynb'),
            new_source: 'print("pwned")',
            cell_type: 'code',
            edit_mode: 'insert',
          },
        },
      },
      bash(`echo PWNED > ${outside}/pwned3.txt; echo PWNED > ${beta.workspace}/pwned4.txt; echo write-end`),
    ]);
    for (const name of ['pwned.txt', 'pwned2.txt', 'pwned3.txt']) expect(existsSync(join(outside, name))).toBe(false);
    expect(existsSync(join(beta.workspace, 'pwned.txt'))).toBe(false);
    expect(existsSync(join(beta.workspace, 'pwned4.txt'))).toBe(false);
    expect(existsSync(join(other.workspace, 'pwned.txt'))).toBe(false);
    expect(readFileSync(join(beta.workspace, 'beta.txt'), 'utf8')).toBe('OTHER-SESSION-FILE-CONTENT\n');
    expect(readFileSync(join(beta.workspace, 'nb.ipynb'), 'utf8')).toBe(nb);
  });

  it('works normally inside: files in the workspace, its own /tmp, and a transcript in its own config folder', async () => {
    const { seen } = await turn('inside', [
      { tool: { name: 'Write', input: { file_path: 'made.txt', content: 'MADE-INSIDE' } } },
      bash('cat made.txt; echo tmp > /tmp/x && cat /tmp/x; ls "$CLAUDE_CONFIG_DIR/projects"; echo inside-end'),
    ]);
    expect(seen).toContain('MADE-INSIDE');
    expect(seen).toContain('inside-end');
    expect(readFileSync(join(alpha.workspace, 'made.txt'), 'utf8')).toBe('MADE-INSIDE');
    const own = join(f.t.dirs.data, 'session-config', alpha.id, 'projects');
    expect(existsSync(own)).toBe(true);
  });

  it('the model API got the real key from the proxy; the model never saw it, nor any secret', () => {
    const keys = new Set(f.model.requests.map((r) => r.headers['x-api-key']));
    expect([...keys]).toEqual([REAL_KEY]);
    const results = toolResults(f.model.requests);
    for (const s of FOREIGN) expect(results).not.toContain(s);
    expect(results).toContain('cca-wall-'); // `env` showed the session's proxy token, good for its own socket only
    const sent = f.model.requests.map((r) => JSON.stringify(r.body ?? '')).join('\n');
    for (const s of [REAL_KEY, 'FAKE-ADMIN-SECRET-31337', 'FAKE-SERVICE-TOKEN-8080', ...KEYS])
      expect(sent).not.toContain(s);
  });
});
