// Sessions the compatible endpoints open by themselves are recycled: the least recently used makes room at
// MAX_SESSIONS_PER_USER, and idle ones are deleted after COMPAT_SESSION_IDLE_HOURS; named and busy ones never are.
import OpenAI from 'openai';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../../support/fixture.js';
import { KEYS } from '../../support/server.js';
import { eventually } from '../../support/wait.js';

const ctx = useTestServer({
  MAX_SESSIONS_PER_USER: '2',
  // About two seconds: the test sweeps by hand, with eventually(), rather than waiting for the timer.
  COMPAT_SESSION_IDLE_HOURS: '0.0006',
});

const client = (key: string, headers: Record<string, string> = {}) =>
  new OpenAI({ apiKey: key, baseURL: `${ctx.t.url}/v1`, maxRetries: 0, defaultHeaders: headers });

/** A new conversation: the name of the session it ran on. */
async function newConversation(key: string, text: string, headers: Record<string, string> = {}): Promise<string> {
  ctx.model.script({ match: text, steps: [{ text: `answer to ${text}` }] });
  const { data, response } = await client(key, headers)
    .chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: text }] })
    .withResponse();
  expect(data.choices[0]!.message.content).toBe(`answer to ${text}`);
  return response.headers.get('x-session-name')!;
}

async function sessionNames(key: string): Promise<string[]> {
  const res = await ctx.t.request('/api/v1/sessions?limit=100', { key });
  return ((await res.json()).data as Array<{ name: string }>).map((s) => s.name).sort();
}

async function workspaceOf(key: string, name: string): Promise<string> {
  return (await (await ctx.t.request(`/api/v1/sessions/${name}`, { key })).json()).data.working_dir;
}

describe('recycling the sessions compatible endpoints open', () => {
  it('makes room at MAX_SESSIONS_PER_USER by deleting the least recently used implicit session', async () => {
    const key = KEYS[0];
    const first = await newConversation(key, 'rc-first');
    const second = await newConversation(key, 'rc-second');
    const firstDir = await workspaceOf(key, first);
    expect(await sessionNames(key)).toEqual([first, second].sort());

    const third = await newConversation(key, 'rc-third');
    expect(await sessionNames(key)).toEqual([second, third].sort());
    expect(existsSync(firstDir)).toBe(false);

    // A named session may take an implicit one's place, but is never recycled itself: with only named sessions
    // left, the key is full.
    await newConversation(key, 'rc-named-a', { 'x-session-name': 'named-a' });
    expect(await sessionNames(key)).toEqual(['named-a', third].sort());
    await newConversation(key, 'rc-named-b', { 'x-session-name': 'named-b' });
    expect(await sessionNames(key)).toEqual(['named-a', 'named-b']);
    const full = await client(key)
      .chat.completions.create({ model: 'sonnet', messages: [{ role: 'user', content: 'rc-refused' }] })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(full).toBeInstanceOf(OpenAI.ConflictError);
    expect((full as InstanceType<typeof OpenAI.ConflictError>).message).toContain('MAX_SESSIONS_PER_USER');
    expect(await sessionNames(key)).toEqual(['named-a', 'named-b']);
    expect(ctx.model.requests.some((r) => r.prompt === 'rc-refused')).toBe(false);
  });

  it('deletes idle implicit sessions, and leaves named and busy ones alone', async () => {
    const key = KEYS[1];
    // Nothing of the first test is implicit any more: only this test's sessions can be swept.
    const idle = await newConversation(key, 'rc-idle');
    const idleDir = await workspaceOf(key, idle);
    const busy = await newConversation(key, 'rc-busy');
    // A turn that hangs keeps `busy` busy (started through the REST API on the implicit session).
    ctx.model.script({ match: 'rc-hang', steps: [{ hang: true }] });
    const hanging = ctx.t.request(`/api/v1/sessions/${busy}/chat/stream`, {
      method: 'POST',
      json: { message: 'rc-hang' },
      key,
    });
    await ctx.model.waitFor((r) => r.prompt === 'rc-hang');

    const deleted = await eventually(
      async () => {
        const n = await ctx.t.server.idleSweep.sweep();
        return n > 0 ? n : undefined;
      },
      60_000,
      'the idle session to be swept',
    );
    expect(deleted).toBe(1);
    const left = await sessionNames(key);
    expect(left).not.toContain(idle);
    expect(left).toContain(busy);
    expect(existsSync(idleDir)).toBe(false);
    // The first test's named sessions are idle too, but named.
    expect(await sessionNames(KEYS[0])).toEqual(['named-a', 'named-b']);

    const interrupted = await ctx.t.request(`/api/v1/sessions/${busy}/interrupt`, { method: 'POST', key });
    expect(interrupted.status).toBeLessThan(300);
    await (await hanging).text();
  });
});
