// Permission rules without the CLI: what parses, what each level adds, and the rule a remembered answer stores.
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/approvals/layered-rules.js';
import { checkRules, parseRule, ruleForCall } from '../../src/approvals/rules.js';

const cwd = '/w/s';

describe('parseRule / checkRules', () => {
  it('accepts the syntax Claude Code documents', () => {
    for (const rule of [
      'Read',
      'Bash(npm test:*)',
      'Bash(git status)',
      'Write(src/**)',
      'Edit(//etc/**)',
      'Read(~/.ssh/**)',
      'WebFetch(domain:example.com)',
      'mcp__github',
      'mcp__github__create_issue',
      'Agent(Explore)',
      'Bash(*)',
    ])
      expect(parseRule(rule), rule).not.toHaveProperty('error');
  });

  it('names every unknown or malformed rule with where it is', () => {
    const problems = checkRules({ allow: ['Read', 'Reed'], deny: ['Bash(x:*y)', 'WebFetch(example.com)', 'Bash()'] });
    expect(problems.map((p) => [p.outcome, p.index])).toEqual([
      ['deny', 0],
      ['deny', 1],
      ['deny', 2],
      ['allow', 1],
    ]);
    expect(problems[3]!.message).toBe('rule "Reed": unknown tool Reed');
    expect(checkRules({ ask: ['mcp__x(y)', 'Glob(', 'TodoWrite(x)'] })).toHaveLength(3);
  });
});

describe('decide', () => {
  const call = (tool: string, input: Record<string, unknown>) => ({ tool, input, cwd });

  it('deny beats ask beats allow across levels; a call no rule names is left to the permission mode', () => {
    const layers = [
      { level: 'operator' as const, rules: { ask: ['Bash'] } },
      { level: 'session' as const, rules: { allow: ['Bash(ls:*)'], deny: ['Bash(rm:*)'] } },
    ];
    expect(decide(layers, [], call('Bash', { command: 'ls -la' }))).toMatchObject({
      outcome: 'ask',
      level: 'operator',
    });
    expect(decide(layers, [], call('Bash', { command: 'rm -rf x' }))).toMatchObject({
      outcome: 'deny',
      rule: 'Bash(rm:*)',
      level: 'session',
    });
    expect(decide(layers, [], call('Read', { file_path: '/w/s/a' }))).toEqual({ outcome: 'none' });
  });

  it('an ask with a remembered answer for the same call is settled by it; other calls still ask', () => {
    const layers = [{ level: 'key' as const, rules: { ask: ['Write'] } }];
    const remembered = [
      { level: 'session' as const, outcome: 'allow' as const, rule: ruleForCall('Write', { file_path: '/w/s/a.txt' }) },
    ];
    expect(decide(layers, remembered, call('Write', { file_path: '/w/s/a.txt', content: 'x' }))).toMatchObject({
      outcome: 'allow',
      level: 'remembered',
    });
    expect(decide(layers, remembered, call('Write', { file_path: '/w/s/b.txt', content: 'x' })).outcome).toBe('ask');
  });

  it('an allow rule covers a compound command only when it covers every part', () => {
    const layers = [{ level: 'request' as const, rules: { allow: ['Bash(ls:*)', 'Bash(pwd)'] } }];
    expect(decide(layers, [], call('Bash', { command: 'ls && pwd' })).outcome).toBe('allow');
    expect(decide(layers, [], call('Bash', { command: 'ls && whoami' })).outcome).toBe('none');
  });
});

describe('ruleForCall', () => {
  it('names exactly the call', () => {
    expect(ruleForCall('Bash', { command: ' npm test ' })).toBe('Bash(npm test)');
    expect(ruleForCall('Write', { file_path: '/w/s/a.txt' })).toBe('Write(//w/s/a.txt)');
    expect(ruleForCall('WebFetch', { url: 'https://Example.com/x' })).toBe('WebFetch(domain:example.com)');
    expect(ruleForCall('TodoWrite', { todos: [] })).toBe('TodoWrite');
    for (const tool of ['Bash', 'Write', 'WebFetch', 'TodoWrite'])
      expect(parseRule(ruleForCall(tool, { command: 'x', file_path: '/a', url: 'https://a.b' }))).not.toHaveProperty(
        'error',
      );
  });
});
