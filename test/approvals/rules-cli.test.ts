// The server reads permission rules as the bundled Claude Code CLI does: the same deny rules given to the real CLI (its
// own matcher) and to ours must refuse exactly the same calls.
import { mkdirSync, writeFileSync } from 'node:fs';
import { query } from '@anthropic-ai/claude-agent-sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../src/approvals/layered-rules.js';
import { CLI_PATH } from '../support/cli-env.js';
import type { ToolCall } from '../support/model-server.js';
import { useProcessFixture } from '../support/process-fixture.js';

const f = useProcessFixture('cc-api-rules-cli-');

beforeAll(() => {
  mkdirSync(`${f.cli.workDir}/src/deep`, { recursive: true });
  for (const name of ['a.env', 'src/x.ts', 'src/deep/y.ts', 'top.txt']) writeFileSync(`${f.cli.workDir}/${name}`, 'x');
});

/** Runs one turn in which the model makes every call in order; returns, per call, whether the CLI refused it by a rule. */
async function cliRefusals(marker: string, deny: string[], calls: ToolCall[]): Promise<boolean[]> {
  f.model.script({ match: marker, steps: [...calls.map((tool) => ({ tool })), { text: 'end' }] });
  const ids: string[] = [];
  const refused = new Set<string>();
  const q = query({
    prompt: marker,
    options: {
      cwd: f.cli.workDir,
      env: f.cli.env,
      pathToClaudeCodeExecutable: CLI_PATH,
      // Every call runs unless a rule refuses it, so a refusal can only be the rules' doing.
      permissionMode: 'bypassPermissions',
      allowDangerouslySkipPermissions: true,
      settingSources: [],
      tools: ['Bash', 'Read', 'Edit', 'Write', 'WebFetch', 'Grep', 'Glob'],
      disallowedTools: deny,
    },
  });
  for await (const m of q) {
    if (m.type === 'assistant') for (const b of m.message.content) if (b.type === 'tool_use') ids.push(b.id);
    if (m.type === 'result') {
      for (const d of m.permission_denials) refused.add(d.tool_use_id);
    }
    if (m.type === 'user' && Array.isArray(m.message.content)) {
      for (const b of m.message.content) {
        if (b.type === 'tool_result' && b.is_error && /denied|permission settings/i.test(JSON.stringify(b.content)))
          refused.add(b.tool_use_id);
      }
    }
  }
  expect(ids).toHaveLength(calls.length);
  return ids.map((id) => refused.has(id));
}

const ours = (deny: string[], calls: ToolCall[]) =>
  calls.map(
    (c) =>
      decide([{ level: 'operator', rules: { deny } }], [], {
        tool: c.name,
        input: c.input,
        cwd: f.cli.workDir,
        home: f.cli.home,
      }).outcome === 'deny',
  );

describe('permission rules, as the CLI reads them', () => {
  it('command and domain rules: prefixes, wildcards, exact commands, compound commands, domains', async () => {
    const deny = ['Bash(npm test:*)', 'Bash(git status)', 'Bash(echo *)', 'WebFetch(domain:example.com)'];
    const calls: ToolCall[] = [
      { name: 'Bash', input: { command: 'npm test' } },
      { name: 'Bash', input: { command: 'npm test -- --watch' } },
      { name: 'Bash', input: { command: 'npm testing' } },
      { name: 'Bash', input: { command: 'git status' } },
      { name: 'Bash', input: { command: 'git status -s' } },
      { name: 'Bash', input: { command: 'echo hi there' } },
      { name: 'Bash', input: { command: 'cat nothing; npm test' } },
      { name: 'Bash', input: { command: 'true && git status' } },
      { name: 'WebFetch', input: { url: 'https://example.com/x', prompt: 'p' } },
      { name: 'WebFetch', input: { url: 'https://sub.example.com/x', prompt: 'p' } },
    ];
    const cliSays = await cliRefusals('conformance-commands', deny, calls);
    expect(ours(deny, calls)).toEqual(cliSays);
    expect(cliSays.filter(Boolean).length).toBeGreaterThan(3); // the corpus has both outcomes
    expect(cliSays.filter((x) => !x).length).toBeGreaterThan(2);
  });

  it('path rules: relative, anchored, name-only, absolute, folders, and Read denials covering edits', async () => {
    const cwd = f.cli.workDir;
    const deny = ['Read(src/**)', 'Read(*.env)', 'Edit(/src/deep/**)', 'Edit(top.txt)', 'Read(//etc/**)'];
    const calls: ToolCall[] = [
      { name: 'Read', input: { file_path: `${cwd}/src/x.ts` } },
      { name: 'Read', input: { file_path: `${cwd}/a.env` } },
      { name: 'Read', input: { file_path: `${cwd}/top.txt` } },
      { name: 'Read', input: { file_path: '/etc/hostname' } },
      { name: 'Edit', input: { file_path: `${cwd}/src/deep/y.ts`, old_string: 'x', new_string: 'y' } },
      { name: 'Write', input: { file_path: `${cwd}/top.txt`, content: 'z' } },
      { name: 'Write', input: { file_path: `${cwd}/other.txt`, content: 'z' } },
      { name: 'Write', input: { file_path: `${cwd}/src/new.ts`, content: 'z' } },
      { name: 'Grep', input: { pattern: 'x', path: `${cwd}/src` } },
      { name: 'Glob', input: { pattern: '*.txt', path: cwd } },
    ];
    const cliSays = await cliRefusals('conformance-paths', deny, calls);
    expect(ours(deny, calls)).toEqual(cliSays);
    expect(cliSays.filter((x) => !x).length).toBeGreaterThan(1);
  });
});
