// Unit tests of the option layers: operator checks, request > session > template > environment, keys and SDK options.
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/index.js';
import {
  checkOptions,
  optionsKey,
  resolveOptions,
  toSdkOptions,
  type EffectiveOptions,
  type SessionOptions,
} from '../../src/engine/options.js';

type ClaudeConfig = Config['claude'];

const env = (over: Partial<ClaudeConfig> = {}): ClaudeConfig => ({
  model: 'env-model',
  effort: 'low',
  systemPrompt: 'env prompt',
  maxTurns: 25,
  maxTurnsLimit: 100,
  allowedModels: [],
  timeoutMs: 300_000,
  permissionMode: 'acceptEdits',
  allowedPermissionModes: ['default', 'acceptEdits', 'plan'],
  allowedTools: ['Read', 'Write', 'Edit', 'Bash', 'Glob'],
  disallowedTools: [],
  ...over,
});

const host = { cwd: '/ws/a', cliPath: undefined, env: { PATH: '/bin' } };

describe('checkOptions', () => {
  it('caps max_turns at CLAUDE_MAX_TURNS_LIMIT and models at CLAUDE_ALLOWED_MODELS when set', () => {
    expect(checkOptions(env(), { max_turns: 100, model: 'anything' })).toEqual([]);
    expect(checkOptions(env(), { max_turns: 101 }).map((p) => p.field)).toEqual(['max_turns']);
    const limited = env({ allowedModels: ['sonnet', 'haiku'] });
    expect(checkOptions(limited, { model: 'sonnet' })).toEqual([]);
    const [problem] = checkOptions(limited, { model: 'opus' });
    expect(problem?.field).toBe('model');
    expect(problem?.message).toContain('sonnet, haiku');
  });

  it('accepts options within what the operator allows', () => {
    expect(checkOptions(env(), { permission_mode: 'plan', allowed_tools: ['Read', 'Bash'] })).toEqual([]);
    expect(checkOptions(env(), {})).toEqual([]);
  });

  it('refuses an output_format schema too long for the command line, or that is not a JSON Schema', () => {
    const schema = { type: 'object', description: 'x'.repeat(70_000) };
    expect(checkOptions(env(), { output_format: { type: 'json_schema', schema } }).map((p) => p.field)).toEqual([
      'output_format',
    ]);
    expect(checkOptions(env(), { output_format: { type: 'json_schema', schema: { type: 'object' } } })).toEqual([]);
    const notASchema = checkOptions(env(), { output_format: { type: 'json_schema', schema: { type: 'nope' } } });
    expect(notASchema.map((p) => p.message)).toEqual([expect.stringContaining('is not a JSON Schema')]);
  });

  it("refuses the seed's auto mode when the operator's list leaves it out, and passes it when listed", () => {
    expect(checkOptions(env(), { permission_mode: 'auto' }).map((p) => p.message)).toEqual([
      'permission mode auto is not allowed here (allowed: default, acceptEdits, plan)',
    ]);
    const listed = { ...env(), allowedPermissionModes: [...env().allowedPermissionModes, 'auto' as const] };
    expect(checkOptions(listed, { permission_mode: 'auto' })).toEqual([]);
    expect(resolveOptions(listed, [{ permission_mode: 'auto' }]).permissionMode).toBe('auto');
  });

  it('refuses a permission mode outside the allowed list, naming the field', () => {
    const problems = checkOptions(env(), { permission_mode: 'bypassPermissions' }, 'options.');
    expect(problems).toHaveLength(1);
    expect(problems[0]!.field).toBe('options.permission_mode');
    expect(problems[0]!.message).toContain('bypassPermissions');
  });

  it('refuses a tool outside the operator list', () => {
    const problems = checkOptions(env(), { allowed_tools: ['Read', 'WebFetch'] });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.field).toBe('allowed_tools');
    expect(problems[0]!.message).toContain('WebFetch');
  });

  it('reports every problem at once', () => {
    const problems = checkOptions(env(), { permission_mode: 'dontAsk', allowed_tools: ['WebFetch', 'WebSearch'] });
    expect(problems.map((p) => p.field)).toEqual(['permission_mode', 'allowed_tools', 'allowed_tools']);
  });
});

describe('resolveOptions', () => {
  const template: SessionOptions = {
    model: 't-model',
    effort: 'medium',
    system_prompt: 't prompt',
    max_turns: 3,
    allowed_tools: ['Read', 'Write', 'Bash'],
    permission_mode: 'default',
  };
  const session: SessionOptions = {
    model: 's-model',
    effort: 'high',
    system_prompt: 's prompt',
    max_turns: 4,
    allowed_tools: ['Read', 'Write'],
    permission_mode: 'plan',
  };
  const request: SessionOptions = {
    model: 'r-model',
    effort: 'max',
    system_prompt: 'r prompt',
    max_turns: 5,
    allowed_tools: ['Read'],
    permission_mode: 'acceptEdits',
  };

  it('falls back to the environment when no layer sets anything', () => {
    expect(resolveOptions(env(), [undefined, {}, undefined])).toEqual({
      model: 'env-model',
      effort: 'low',
      systemPrompt: 'env prompt',
      maxTurns: 25,
      allowedTools: ['Read', 'Write', 'Edit', 'Bash', 'Glob'],
      disallowedTools: [],
      permissionMode: 'acceptEdits',
    });
  });

  it('template overrides the environment', () => {
    expect(resolveOptions(env(), [template, undefined, undefined])).toMatchObject({
      model: 't-model',
      effort: 'medium',
      systemPrompt: 't prompt',
      maxTurns: 3,
      allowedTools: ['Read', 'Write', 'Bash'],
      permissionMode: 'default',
    });
  });

  it('session overrides the template', () => {
    expect(resolveOptions(env(), [template, session, undefined])).toMatchObject({
      model: 's-model',
      effort: 'high',
      systemPrompt: 's prompt',
      maxTurns: 4,
      allowedTools: ['Read', 'Write'],
      permissionMode: 'plan',
    });
  });

  it('request overrides the session', () => {
    expect(resolveOptions(env(), [template, session, request])).toMatchObject({
      model: 'r-model',
      effort: 'max',
      systemPrompt: 'r prompt',
      maxTurns: 5,
      allowedTools: ['Read'],
      permissionMode: 'acceptEdits',
    });
  });

  it('each option is taken from the highest layer that sets it', () => {
    const r = resolveOptions(env(), [{ model: 't' }, { max_turns: 9 }, { effort: 'xhigh' }]);
    expect(r).toMatchObject({
      model: 't',
      maxTurns: 9,
      effort: 'xhigh',
      systemPrompt: 'env prompt',
      permissionMode: 'acceptEdits',
    });
  });

  it('allowed_tools only narrows: tools outside the operator list are dropped', () => {
    const r = resolveOptions(env(), [undefined, undefined, { allowed_tools: ['Bash', 'WebFetch', 'Read'] }]);
    expect(r.allowedTools).toEqual(['Bash', 'Read']);
  });

  it('disallowed tools are removed from the allowed list', () => {
    const r = resolveOptions(env({ disallowedTools: ['Bash'] }), [
      undefined,
      { disallowed_tools: ['Write'] },
      { allowed_tools: ['Read', 'Write', 'Bash'] },
    ]);
    expect(r.allowedTools).toEqual(['Read']);
  });

  it('disallowed lists of every layer and the environment are united', () => {
    const r = resolveOptions(env({ disallowedTools: ['WebFetch'] }), [
      { disallowed_tools: ['Bash'] },
      { disallowed_tools: ['Write', 'Bash'] },
      { disallowed_tools: ['Glob'] },
    ]);
    expect(new Set(r.disallowedTools)).toEqual(new Set(['WebFetch', 'Bash', 'Write', 'Glob']));
    expect(r.disallowedTools).toHaveLength(4);
    expect(r.allowedTools).toEqual(['Read', 'Edit']);
  });
});

describe('optionsKey', () => {
  const base: EffectiveOptions = resolveOptions(env(), []);

  it('is stable for equal options and cwd', () => {
    expect(optionsKey(base, '/ws/a')).toBe(optionsKey({ ...base, allowedTools: [...base.allowedTools] }, '/ws/a'));
  });

  it('changes when the cwd changes', () => {
    expect(optionsKey(base, '/ws/b')).not.toBe(optionsKey(base, '/ws/a'));
  });

  const changes: Array<[string, Partial<EffectiveOptions>]> = [
    ['model', { model: 'other' }],
    ['model unset', { model: undefined }],
    ['effort', { effort: 'high' }],
    ['systemPrompt', { systemPrompt: 'other' }],
    ['maxTurns', { maxTurns: 26 }],
    ['allowedTools', { allowedTools: ['Read'] }],
    ['disallowedTools', { disallowedTools: ['Bash'] }],
    ['permissionMode', { permissionMode: 'plan' }],
    ['outputFormat', { outputFormat: { type: 'json_schema', schema: { type: 'object' } } }],
  ];
  it.each(changes)('changes when %s changes', (_name, change) => {
    expect(optionsKey({ ...base, ...change }, '/ws/a')).not.toBe(optionsKey(base, '/ws/a'));
  });
});

describe('toSdkOptions', () => {
  it('uses the preset system prompt, appending only when a prompt is set', () => {
    const withPrompt = toSdkOptions(resolveOptions(env(), []), host);
    expect(withPrompt.systemPrompt).toMatchObject({ type: 'preset', preset: 'claude_code', append: 'env prompt' });
    const without = toSdkOptions(resolveOptions(env({ systemPrompt: undefined }), []), host);
    expect(without.systemPrompt).toMatchObject({ type: 'preset', preset: 'claude_code' });
    expect(without.systemPrompt).not.toHaveProperty('append');
  });

  it('passes the effective tool lists, mode, turns, cwd and env', () => {
    const opts = resolveOptions(env({ disallowedTools: ['Bash'] }), [
      { allowed_tools: ['Read', 'Bash', 'Glob'], max_turns: 7 },
    ]);
    const sdk = toSdkOptions(opts, host);
    expect(sdk.tools).toEqual(['Read', 'Glob']);
    expect(sdk.allowedTools).toEqual(['Read', 'Glob']);
    expect(sdk.disallowedTools).toEqual(['Bash']);
    expect(sdk.permissionMode).toBe('acceptEdits');
    expect(sdk.maxTurns).toBe(7);
    expect(sdk.cwd).toBe('/ws/a');
    expect(sdk.env).toEqual({ PATH: '/bin' });
  });

  it('passes output_format as outputFormat and offers its StructuredOutput tool, only when it is set', () => {
    const format = { type: 'json_schema' as const, schema: { type: 'object' } };
    const sdk = toSdkOptions(resolveOptions(env(), [{ allowed_tools: ['Read'] }, { output_format: format }]), host);
    expect(sdk.outputFormat).toEqual(format);
    expect(sdk.tools).toEqual(['Read', 'StructuredOutput']);
    expect(sdk.allowedTools).toEqual(['Read', 'StructuredOutput']);
    const plain = toSdkOptions(resolveOptions(env(), [{ allowed_tools: ['Read'] }]), host);
    expect(plain.outputFormat).toBeUndefined();
    expect(plain.tools).toEqual(['Read']);
  });

  it('sets allowDangerouslySkipPermissions only for bypassPermissions', () => {
    const modes = ['default', 'acceptEdits', 'plan', 'dontAsk'] as const;
    for (const permissionMode of modes) {
      expect(toSdkOptions({ ...resolveOptions(env(), []), permissionMode }, host)).not.toHaveProperty(
        'allowDangerouslySkipPermissions',
      );
    }
    const bypass = toSdkOptions({ ...resolveOptions(env(), []), permissionMode: 'bypassPermissions' }, host);
    expect(bypass.allowDangerouslySkipPermissions).toBe(true);
  });

  it('sets model, effort and the CLI path only when they are set', () => {
    const unset = toSdkOptions(resolveOptions(env({ model: undefined, effort: undefined }), []), host);
    expect(unset).not.toHaveProperty('model');
    expect(unset).not.toHaveProperty('effort');
    expect(unset).not.toHaveProperty('pathToClaudeCodeExecutable');
    const set = toSdkOptions(resolveOptions(env(), [{ model: 'm', effort: 'high' }]), {
      ...host,
      cliPath: '/opt/claude',
    });
    expect(set.model).toBe('m');
    expect(set.effort).toBe('high');
    expect(set.pathToClaudeCodeExecutable).toBe('/opt/claude');
  });
});
