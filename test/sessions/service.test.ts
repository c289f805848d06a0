// Unit tests of SessionService, the session rules, as the server wires it (store, engine, templates, budgets) with the real CLI against the scripted model: create and delete rules, chat turns recorded in history and totals, budgets refused, working directories.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '../../src/problems.js';
import { tenantOf } from '../../src/security/api-keys.js';
import type { SessionService } from '../../src/sessions/service.js';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';

// At most two Claude Code processes live at once: the least recently used idle one closes for a new one.
const f = useTestServer({
  MAX_SESSIONS_PER_USER: '4',
  CLAUDE_MAX_TURNS_LIMIT: '25',
  MAX_LIVE_SESSIONS: '2',
  MAX_CONCURRENT_TURNS: '2',
});
const TENANT = tenantOf(KEYS[0]);
const OTHER = tenantOf(KEYS[1]);
const service = (): SessionService => f.t.server.sessions;

/** The problem `work` is refused with (fails the test when it is not refused). */
async function refusal(work: Promise<unknown>): Promise<ProblemError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ProblemError)) throw new Error(`expected a problem, got ${String(err)}`);
  return err;
}

describe('SessionService: create', () => {
  it('makes a pending session with its own workspace as working directory, and stores only the options given', async () => {
    const row = await service().create(TENANT, { name: 'plain', model: 'claude-test-model', max_turns: 3 });
    expect(row).toMatchObject({
      owner: TENANT,
      name: 'plain',
      status: 'pending',
      claude_session_id: null,
      template: null,
    });
    expect(row.working_dir).toBe(row.workspace);
    expect(row.workspace.startsWith(f.t.dirs.workspaces)).toBe(true);
    expect(existsSync(row.workspace)).toBe(true);
    expect(row.options).toEqual({ model: 'claude-test-model', max_turns: 3 });
    expect(await service().get(TENANT, 'plain')).toMatchObject({ id: row.id });
    await service().remove(TENANT, 'plain', true);
  });

  it('refuses a second session of the same name for the tenant (409), not for another tenant', async () => {
    await service().create(TENANT, { name: 'twin' });
    const dup = await refusal(service().create(TENANT, { name: 'twin' }));
    expect(dup).toMatchObject({ status: 409, slug: 'conflict' });
    expect(dup.message).toContain('"twin"');
    const theirs = await service().create(OTHER, { name: 'twin' });
    expect(theirs.owner).toBe(OTHER);
    await service().remove(TENANT, 'twin', true);
    await service().remove(OTHER, 'twin', true);
  });

  it('refuses options the operator does not allow (422, one error per field) and creates nothing', async () => {
    const bad = await refusal(service().create(TENANT, { name: 'greedy', max_turns: 26, permission_mode: 'plan' }));
    expect(bad).toMatchObject({ status: 422, slug: 'validation-failed' });
    expect(bad.extra?.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pointer: '/max_turns', message: expect.stringContaining('CLAUDE_MAX_TURNS_LIMIT') }),
      ]),
    );
    await expect(service().get(TENANT, 'greedy')).rejects.toMatchObject({ status: 404 });
  });

  it('holds at most MAX_SESSIONS_PER_USER sessions per tenant (409 session-limit)', async () => {
    const names = ['n1', 'n2', 'n3', 'n4'];
    for (const name of names) await service().create(TENANT, { name });
    const over = await refusal(service().create(TENANT, { name: 'n5' }));
    expect(over).toMatchObject({ status: 409, slug: 'session-limit' });
    expect(over.message).toContain('MAX_SESSIONS_PER_USER');
    // The other tenant has its own count.
    await service().create(OTHER, { name: 'n5' });
    for (const name of names) await service().remove(TENANT, name, true);
    await service().remove(OTHER, 'n5', true);
  });

  it('takes a working_dir inside APPROVED_DIRECTORY and refuses one outside, the root, or in another session', async () => {
    const shared = join(f.t.dirs.workspaces, 'shared-repo');
    mkdirSync(shared, { recursive: true });
    const row = await service().create(TENANT, { name: 'in-repo', working_dir: 'shared-repo' });
    expect(row.working_dir).toBe(shared);
    expect(row.workspace).not.toBe(shared);

    const owned = await service().create(TENANT, { name: 'owner-of-folder' });
    for (const [candidate, message] of [
      ['/etc', 'inside APPROVED_DIRECTORY'],
      [f.t.dirs.workspaces, 'not the root itself'],
      [owned.workspace, "another session's workspace"],
    ] as const) {
      const err = await refusal(service().create(TENANT, { name: 'misplaced', working_dir: candidate }));
      expect(err).toMatchObject({ status: 422, slug: 'validation-failed' });
      expect(err.extra?.errors).toEqual([expect.objectContaining({ pointer: '/working_dir' })]);
      expect(err.message).toContain(message);
    }
    await expect(service().get(TENANT, 'misplaced')).rejects.toMatchObject({ status: 404 });
    await service().remove(TENANT, 'in-repo', true);
    await service().remove(TENANT, 'owner-of-folder', true);
  });

  it('takes a loaded template; refuses an unknown one and one whose options pass the limits (422 on /template)', async () => {
    const row = await service().create(TENANT, { name: 'templated', template: 'code-reviewer', max_turns: 10 });
    expect(row.template).toBe('code-reviewer');

    const unknown = await refusal(service().create(TENANT, { name: 'untemplated', template: 'no-such-template' }));
    expect(unknown).toMatchObject({ status: 422, slug: 'unknown-template' });
    // code-reviewer asks for max_turns 30, above CLAUDE_MAX_TURNS_LIMIT=25, and nothing higher sets another.
    const refused = await refusal(service().create(TENANT, { name: 'untemplated', template: 'code-reviewer' }));
    expect(refused).toMatchObject({ status: 422, slug: 'validation-failed' });
    expect(refused.extra?.errors).toEqual([expect.objectContaining({ pointer: '/template' })]);
    await expect(service().get(TENANT, 'untemplated')).rejects.toMatchObject({ status: 404 });
    await service().remove(TENANT, 'templated', true);
  });
});

describe('SessionService: chat', () => {
  it('records a turn in history and totals: the user message, the answer, cost and tokens, the Claude session id', async () => {
    const created = await service().create(TENANT, { name: 'talk' });
    const { turn, recorded } = await service().chat(TENANT, 'talk', { message: 'count my tokens' });
    const result = await turn.done;
    await recorded;
    expect(result.content).toBe('echo: count my tokens');

    const history = await service().history(TENANT, 'talk', 0, 10);
    expect(history.items.map((m) => [m.role, m.content, m.status])).toEqual([
      ['user', 'count my tokens', 'ok'],
      ['assistant', 'echo: count my tokens', 'ok'],
    ]);
    expect(history.items.every((m) => m.turn_id === turn.id)).toBe(true);

    const row = await service().get(TENANT, 'talk');
    expect(row.turns).toBe(created.turns + 1);
    expect(row.cost_usd).toBeCloseTo(result.cost_usd, 9);
    expect(row.input_tokens).toBe(result.usage.input_tokens);
    expect(row.output_tokens).toBe(result.usage.output_tokens);
    expect(row.claude_session_id).toBe(result.session_id);
    expect(row.last_event_id).toBe(turn.lastEventId);
    // Found by its Claude session id too.
    expect((await service().get(TENANT, result.session_id)).id).toBe(row.id);
    expect(service().liveness(row.id)).toEqual({ live: true, busy: false });
  });

  it('records a failed turn as an error with its problem', async () => {
    f.model.script({ match: 'model-says-no', steps: [{ error: { status: 400, message: 'scripted refusal' } }] });
    const { turn, recorded } = await service().chat(TENANT, 'talk', { message: 'model-says-no' });
    await expect(turn.done).rejects.toMatchObject({ kind: 'api_error' });
    await recorded;
    const last = (await service().history(TENANT, 'talk', 0, 100)).items.at(-1)!;
    expect(last).toMatchObject({ role: 'assistant', status: 'error', turn_id: turn.id });
    expect(last.error).toMatchObject({ type: '/problems/api-error', status: 502 });
  });

  it('refuses a turn on an unknown session (404) and bad options (422) before anything is queued', async () => {
    await expect(service().chat(TENANT, 'nobody', { message: 'hi' })).rejects.toMatchObject({
      status: 404,
      slug: 'not-found',
    });
    await expect(service().chat(OTHER, 'talk', { message: 'not yours' })).rejects.toMatchObject({ status: 404 });
    const before = (await service().history(TENANT, 'talk', 0, 100)).total;
    await expect(service().chat(TENANT, 'talk', { message: 'hi', max_turns: 99 })).rejects.toMatchObject({
      status: 422,
      slug: 'validation-failed',
    });
    expect((await service().history(TENANT, 'talk', 0, 100)).total).toBe(before);
  });

  it("refuses a turn once the key's budget is spent (429), and records nothing", async () => {
    await service().create(TENANT, { name: 'thrifty' });
    const caller = { keyId: 'budget-key', keyBudgetUsd: 1e-9 };
    // Nothing spent yet: the first turn runs, and its cost goes past the tiny budget.
    const first = await service().chat(TENANT, 'thrifty', { message: 'spend a little' }, caller);
    const spent = await first.turn.done;
    await first.recorded;
    expect(spent.cost_usd).toBeGreaterThan(1e-9);
    await expect(service().assertCanSpend(TENANT, caller)).rejects.toMatchObject({ status: 429 });
    const refused = await refusal(service().chat(TENANT, 'thrifty', { message: 'spend more' }, caller));
    expect(refused).toMatchObject({ status: 429, slug: 'key-budget-exceeded' });
    expect((await service().history(TENANT, 'thrifty', 0, 100)).total).toBe(2);
    // Another key of the tenant is not held to it.
    const other = await service().chat(TENANT, 'thrifty', { message: 'someone else pays' }, { keyId: 'other-key' });
    await other.recorded;
    await service().remove(TENANT, 'thrifty', true);
  });

  it('closes turns a stopped server left open: each gets an interrupted answer', async () => {
    const row = await service().get(TENANT, 'talk');
    await f.t.server.store.messages.insert({
      session_id: row.id,
      turn_id: 'left-open-turn',
      role: 'user',
      content: 'asked before a crash',
    });
    expect(await service().closeUnfinishedTurns()).toBe(1);
    const last = (await service().history(TENANT, 'talk', 0, 100)).items.at(-1)!;
    expect(last).toMatchObject({ role: 'assistant', turn_id: 'left-open-turn', status: 'interrupted' });
    expect(last.error).toMatchObject({ type: '/problems/server-restarted', status: 503 });
    expect(await service().closeUnfinishedTurns()).toBe(0);
  });
});

describe('SessionService: working directory and delete', () => {
  it('a new working directory is refused while a turn runs (409), then taken and the process restarted', async () => {
    mkdirSync(join(f.t.dirs.workspaces, 'moved-repo'), { recursive: true });
    f.model.script({ match: 'keep-busy', steps: [{ hang: true }] });
    const row = await service().get(TENANT, 'talk');
    const { turn, recorded } = await service().chat(TENANT, 'talk', { message: 'keep-busy' });
    await f.model.waitFor((r) => r.kind === 'main' && r.prompt === 'keep-busy');
    await expect(service().changeWorkingDir(TENANT, 'talk', 'moved-repo')).rejects.toMatchObject({
      status: 409,
      slug: 'session-busy',
    });
    expect(await service().interrupt(TENANT, 'talk')).toBe(true);
    await turn.done;
    await recorded;
    expect(await service().interrupt(TENANT, 'talk')).toBe(false);

    const updated = await service().changeWorkingDir(TENANT, 'talk', 'moved-repo');
    expect(updated.working_dir).toBe(join(f.t.dirs.workspaces, 'moved-repo'));
    expect(service().liveness(row.id).live).toBe(false);
    await expect(service().changeWorkingDir(TENANT, 'talk', '/etc')).rejects.toMatchObject({ status: 422 });
  });

  it('remove closes the process and deletes the row; purge removes the workspace, else it stays', async () => {
    const kept = await service().create(TENANT, { name: 'keep-files' });
    const { recorded } = await service().chat(TENANT, 'keep-files', { message: 'start a process' });
    await recorded;
    expect(service().liveness(kept.id).live).toBe(true);
    await service().remove(TENANT, 'keep-files', false);
    expect(service().liveness(kept.id).live).toBe(false);
    await expect(service().get(TENANT, 'keep-files')).rejects.toMatchObject({ status: 404 });
    expect(existsSync(kept.workspace)).toBe(true);

    const talk = await service().get(TENANT, 'talk');
    await service().remove(TENANT, 'talk', true);
    expect(existsSync(talk.workspace)).toBe(false);
    expect((await f.t.server.store.messages.listBySession(talk.id, { offset: 0, limit: 10 })).total).toBe(0);
    await expect(service().remove(TENANT, 'talk', true)).rejects.toMatchObject({ status: 404 });
  });
});
