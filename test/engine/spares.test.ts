// The parts of warm spares that need no process: which turns a spare may serve (spareMismatch) and the hook relay that carries a claiming session's hooks.
import type { HookCallbackMatcher, HookInput } from '@anthropic-ai/claude-agent-sdk';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { HookRelay } from '../../src/engine/hook-relay.js';
import { resolveOptions } from '../../src/engine/options.js';
import { spareMismatch } from '../../src/engine/spares.js';

const claude = loadConfig({ API_KEYS: 'k'.repeat(24) }).claude;
const profile = resolveOptions(claude, []);
const want = (layers: Parameters<typeof resolveOptions>[1], extra: { template?: string; own?: boolean } = {}) => ({
  options: resolveOptions(claude, layers),
  template: extra.template ?? null,
  ownWorkingDir: extra.own ?? false,
});

describe('spareMismatch', () => {
  it("serves a default session's first turn", () => {
    expect(spareMismatch(profile, want([]))).toBeUndefined();
    expect(spareMismatch(profile, want([{ model: claude.model }]))).toBeUndefined();
  });

  it('refuses, saying why, another model, tools, system prompt, turn limit, budget, a template or an own working directory', () => {
    expect(spareMismatch(profile, want([{ model: 'claude-other' }]))).toMatch(/^its model \("claude-other"\)/);
    expect(spareMismatch(profile, want([{ allowed_tools: ['Read'] }]))).toMatch(/^its allowedTools/);
    expect(spareMismatch(profile, want([{ disallowed_tools: ['Write'] }]))).toMatch(
      /^its allowedTools|disallowedTools/,
    );
    expect(spareMismatch(profile, want([{ system_prompt: 'be brief' }]))).toMatch(/^its systemPrompt/);
    expect(spareMismatch(profile, want([{ max_turns: 3 }]))).toMatch(/^its maxTurns/);
    expect(spareMismatch(profile, want([{ max_budget_usd: 0.5 }]))).toMatch(/^its maxBudgetUsd/);
    expect(spareMismatch(profile, want([{ max_output_tokens: 1000 }]))).toMatch(/^its maxOutputTokens/);
    expect(spareMismatch(profile, want([], { template: 'reviewer' }))).toBe('the session uses the template reviewer');
    expect(spareMismatch(profile, want([], { own: true }))).toBe('the session runs in a working directory of its own');
  });

  it('refuses a first turn that asks for an output_format the spare was started without', () => {
    const schema = { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'] };
    const asked = want([{ output_format: { type: 'json_schema', schema } }]);
    expect({ ...asked.options, outputFormat: profile.outputFormat }).toEqual(profile);
    expect(spareMismatch(profile, asked)).toMatch(/^its outputFormat/);
  });

  it('compares every option, not a list: a field it was never told about still refuses', () => {
    const options = { ...profile, futureOption: 'on' } as typeof profile;
    expect(spareMismatch(profile, { options, template: null, ownWorkingDir: false })).toMatch(
      /^its futureOption \("on"\)/,
    );
    expect(spareMismatch(options, { options: profile, template: null, ownWorkingDir: false })).toMatch(
      /^its futureOption \(undefined\) is not the spare's \("on"\)/,
    );
  });
});

describe('HookRelay', () => {
  const input = { hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: {} } as unknown as HookInput;
  const signal = new AbortController().signal;
  const layout = (answer: string, timeout = 30): HookCallbackMatcher[] => [
    { hooks: [() => Promise.resolve({ reason: answer })], timeout, onFailure: 'block' },
  ];

  it('refuses every call until bound, then passes each to the claiming session', async () => {
    const relay = new HookRelay();
    const hooks = relay.wrap({ PreToolUse: layout('example') })!;
    const call = () => hooks.PreToolUse![0]!.hooks[0]!(input, 'tu-1', { signal });
    expect(await call()).toMatchObject({ hookSpecificOutput: { permissionDecision: 'deny' } });
    relay.bind({ PreToolUse: layout('the session') }, undefined);
    expect(await call()).toEqual({ reason: 'the session' });
  });

  it('says when a session lays its hooks out otherwise', () => {
    const relay = new HookRelay();
    relay.wrap({ PreToolUse: layout('example') });
    relay.canUseTool(false);
    expect(relay.mismatch({ PreToolUse: layout('s') }, undefined)).toBeUndefined();
    expect(relay.mismatch({ PreToolUse: layout('s', 60) }, undefined)).toMatch(/laid out differently/);
    expect(relay.mismatch({}, undefined)).toMatch(/laid out differently/);
    expect(relay.mismatch({ PreToolUse: layout('s') }, () => Promise.resolve({ behavior: 'allow' }))).toMatch(
      /tool permissions/,
    );
  });
});
