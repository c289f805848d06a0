// Unit tests of SessionRunner: one live Claude Code process (the real CLI against the scripted model) and its turns: events in order, result, interrupt, time limit, closing, model errors, resume.
import { afterEach, describe, expect, it } from 'vitest';
import type { TurnEvent } from '../../src/engine/events.js';
import { SessionRunner, type RunnerLaunch, type TurnLimits } from '../../src/engine/runner.js';
import { MemoryCeiling, type ProcessExit } from '../../src/engine/supervisor.js';
import { Turn } from '../../src/engine/turn.js';
import { cliLaunch, quietLog } from '../support/launch.js';
import { promptTexts } from '../support/model-server.js';
import { useProcessFixture } from '../support/process-fixture.js';

const f = useProcessFixture('cc-api-runner-');
const LIMITS: TurnLimits = { timeoutMs: 120_000, stallMs: 0 };

const open: SessionRunner[] = [];
const exits: ProcessExit[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
  exits.length = 0;
});

function start(launch: RunnerLaunch = cliLaunch(f.cli)): SessionRunner {
  const runner = new SessionRunner('session-1', launch, quietLog, {
    ceiling: new MemoryCeiling(0),
    onExit: (exit) => exits.push(exit),
  });
  open.push(runner);
  return runner;
}

/** A turn as the engine hands it to a runner: begun, its events numbered from `firstId`. */
function begun(message: string, firstId = 1): Turn {
  const turn = new Turn('session-1', message);
  turn.begin(firstId);
  return turn;
}

/** The runner is idle and its process answers the next turn. */
async function expectServesNext(runner: SessionRunner, message: string): Promise<void> {
  expect(runner.state).toBe('idle');
  const next = begun(message);
  await runner.run(next, LIMITS);
  expect((await next.done).content).toBe(`echo: ${message}`);
}

async function eventsOf(turn: Turn): Promise<TurnEvent[]> {
  const out: TurnEvent[] = [];
  for await (const e of turn.events(0)) out.push(e.event);
  return out;
}

describe('SessionRunner', () => {
  it('runs a turn: session event, text, then the result; ids follow on; the process stays for the next turn', async () => {
    const runner = start();
    const turn = begun('hello runner', 5);
    await runner.run(turn, LIMITS);
    const result = await turn.done;
    expect(result).toMatchObject({ status: 'ok', content: 'echo: hello runner', turn_id: turn.id, tools_used: [] });
    expect(result.session_id).toBe(runner.claudeSessionId);
    const events = await eventsOf(turn);
    expect(events[0]).toMatchObject({ type: 'session', session_id: runner.claudeSessionId, cwd: f.cli.workDir });
    expect(events.at(-1)).toMatchObject({ type: 'result', content: 'echo: hello runner' });
    const texts = events.filter((e) => e.type === 'text').map((e) => e.text);
    expect(texts.join('')).toBe('echo: hello runner');
    const ids: number[] = [];
    for await (const e of turn.events(0)) ids.push(e.id);
    expect(ids).toEqual(ids.map((_, i) => 5 + i));
    expect(runner.state).toBe('idle');

    const second = begun('second prompt');
    await runner.run(second, LIMITS);
    expect((await second.done).content).toBe('echo: second prompt');
    // The same process: the model sees the whole conversation, and no process ended in between.
    expect(promptTexts(f.model.mainRequests().at(-1)!)).toEqual(
      expect.arrayContaining(['hello runner', 'second prompt']),
    );
    expect(exits).toEqual([]);
  });

  it('a tool call shows as tool_use and tool_result events and in tools_used with its output', async () => {
    f.model.script({
      match: 'list-the-folder',
      steps: [{ tool: { name: 'Bash', input: { command: 'echo tool-output-here', description: 'echo' } } }],
    });
    const runner = start(cliLaunch(f.cli, { session: { permission_mode: 'bypassPermissions' } }));
    const turn = begun('list-the-folder');
    await runner.run(turn, LIMITS);
    const result = await turn.done;
    expect(result.tools_used).toEqual([
      {
        name: 'Bash',
        input: expect.objectContaining({ command: 'echo tool-output-here' }),
        output: expect.stringContaining('tool-output-here'),
        is_error: false,
      },
    ]);
    const events = await eventsOf(turn);
    const use = events.find((e) => e.type === 'tool_use');
    const out = events.find((e) => e.type === 'tool_result');
    expect(use).toMatchObject({ name: 'Bash' });
    expect(out).toMatchObject({ is_error: false, output: expect.stringContaining('tool-output-here') });
    expect(events.indexOf(use!)).toBeLessThan(events.indexOf(out!));
  });

  it('an error from the model fails the turn with api_error and an error event; the process serves the next turn', async () => {
    f.model.script({ match: 'refuse-this', steps: [{ error: { status: 400, message: 'scripted bad request' } }] });
    const runner = start();
    const turn = begun('refuse-this');
    await runner.run(turn, LIMITS);
    await expect(turn.done).rejects.toMatchObject({ kind: 'api_error', status: 502 });
    expect(turn.error?.message).toContain('scripted bad request');
    const last = (await eventsOf(turn)).at(-1);
    expect(last).toMatchObject({ type: 'error', problem: { type: '/problems/api-error', status: 502 } });
    await expectServesNext(runner, 'after the error');
  });

  it("a client's interrupt ends the running turn as interrupted; the process serves the next turn", async () => {
    f.model.script({ match: 'hang-forever', steps: [{ hang: true }] });
    const runner = start();
    const turn = begun('hang-forever');
    const running = runner.run(turn, LIMITS);
    await f.model.waitFor((r) => r.kind === 'main' && r.prompt === 'hang-forever');
    turn.interrupt('client');
    await running;
    const result = await turn.done;
    expect(result).toMatchObject({ status: 'interrupted', stop_reason: 'interrupted' });
    await expectServesNext(runner, 'after the interrupt');
  });

  it('a turn past its time limit fails with timeout and its process ends', async () => {
    f.model.script({ match: 'slow-answer', steps: [{ hang: true }] });
    const runner = start();
    const turn = begun('slow-answer');
    await runner.run(turn, { timeoutMs: 2_000, stallMs: 0 });
    await expect(turn.done).rejects.toMatchObject({ kind: 'timeout', status: 504 });
    await runner.exited;
    expect(runner.state).toBe('closed');
    expect(exits).toEqual([expect.objectContaining({ sessionId: 'session-1', reason: 'timeout' })]);
  });

  it('a model that goes silent mid-answer is stopped by the stall watchdog', async () => {
    f.model.script({ match: 'go-quiet', steps: [{ stall: 'I start and then' }] });
    const runner = start();
    const turn = begun('go-quiet');
    await runner.run(turn, { timeoutMs: 120_000, stallMs: 2_000 });
    await expect(turn.done).rejects.toMatchObject({ kind: 'stalled' });
    expect(turn.error?.message).toContain('TURN_STALL_SECONDS');
    await runner.exited;
    expect(exits.map((e) => e.reason)).toEqual(['stalled']);
  });

  it('close ends the process (reported as closed); a turn run on it afterwards fails at once', async () => {
    const runner = start();
    const first = begun('before closing');
    await runner.run(first, LIMITS);
    await runner.close();
    expect(runner.state).toBe('closed');
    expect(exits).toEqual([expect.objectContaining({ reason: 'closed', sessionId: 'session-1' })]);

    const late = begun('too late');
    await runner.run(late, LIMITS);
    await expect(late.done).rejects.toMatchObject({ kind: 'process_failed' });
    expect(late.error?.message).toContain('already exited');
  });

  it('closing the process under a running turn fails that turn', async () => {
    f.model.script({ match: 'hang-then-close', steps: [{ hang: true }] });
    const runner = start();
    const turn = begun('hang-then-close');
    const running = runner.run(turn, LIMITS);
    await f.model.waitFor((r) => r.kind === 'main' && r.prompt === 'hang-then-close');
    await runner.close();
    await running;
    await expect(turn.done).rejects.toMatchObject({ kind: 'process_failed' });
  });

  it('a new process resumes the conversation of a closed one', async () => {
    const first = start();
    const turn = begun('remember the word walnut');
    await first.run(turn, LIMITS);
    await turn.done;
    await first.close();

    const resumed = start(cliLaunch(f.cli, { claudeSessionId: first.claudeSessionId, resume: true }));
    const next = begun('which word?');
    await resumed.run(next, LIMITS);
    expect((await next.done).session_id).toBe(first.claudeSessionId);
    const asked = f.model.mainRequests().at(-1)!;
    expect(promptTexts(asked)).toEqual(expect.arrayContaining(['remember the word walnut', 'which word?']));
  });

  it('a process that cannot start fails its turn and is reported as failed_start', async () => {
    const launch = cliLaunch(f.cli);
    const runner = start({
      ...launch,
      options: { ...launch.options, pathToClaudeCodeExecutable: `${f.dir}/no-such-claude` },
    });
    const turn = begun('never answered');
    await runner.run(turn, LIMITS);
    await expect(turn.done).rejects.toMatchObject({ kind: 'process_failed' });
    await runner.exited;
    expect(exits.map((e) => e.reason)).toEqual(['failed_start']);
  });
});
