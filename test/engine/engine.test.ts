// Unit tests of Engine: a submitted turn runs through the session queue, a turn slot and a live process; turns of one session wait in order; slots and the queue limit refuse; launch failures become engine errors; a warm spare that refuses the claim is retried cold; shutdown drains.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, type EngineSettings, type TurnRequest } from '../../src/engine/engine.js';
import type { RunnerLaunch } from '../../src/engine/runner.js';
import type { Turn } from '../../src/engine/turn.js';
import { ProblemError } from '../../src/problems.js';
import type { SDKUserMessage, SpareProcess } from '@anthropic-ai/claude-agent-sdk';
import { HookRelay } from '../../src/engine/hook-relay.js';
import type { WallPlan } from '../../src/engine/process-spawn.js';
import { Spare } from '../../src/engine/spares.js';
import { cliLaunch, cliSpare, quietLog } from '../support/launch.js';
import { useProcessFixture } from '../support/process-fixture.js';

const f = useProcessFixture('cc-api-engine-');

const SETTINGS: EngineSettings = {
  maxLiveSessions: 2,
  sessionIdleMs: 3_600_000,
  maxConcurrentTurns: 2,
  turnQueueTimeoutMs: 60_000,
  sessionQueueLimit: 5,
  replayMs: 60_000,
  timeoutMs: 120_000,
  stallMs: 0,
  maxRssBytes: 0,
};

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.shutdown(0);
  engine = undefined;
});

function makeEngine(settings: Partial<EngineSettings> = {}): Engine {
  engine = new Engine({ ...SETTINGS, ...settings }, quietLog);
  return engine;
}

/** A turn request whose hooks write down what happened, in order, into `log`. */
function request(
  sessionId: string,
  message: string,
  log: string[] = [],
  prepare: () => Promise<RunnerLaunch> = () => Promise.resolve(cliLaunch(f.cli)),
): TurnRequest {
  return {
    sessionId,
    message,
    lastEventId: 0,
    prepare: () => {
      log.push(`prepare ${message}`);
      return prepare();
    },
    onStart: (turn) => {
      log.push(`start ${turn.message}`);
      return Promise.resolve();
    },
    onEnd: (turn) => {
      log.push(`end ${turn.message}`);
      return Promise.resolve();
    },
  };
}

/** Resolves when the model server has been asked the prompt (the turn is running in its process). */
const asked = (prompt: string) => f.model.waitFor((r) => r.kind === 'main' && r.prompt === prompt);

describe('Engine', () => {
  it('submit returns the queued turn at once; it runs in a live process, hooks around it, then settles', async () => {
    const e = makeEngine();
    const log: string[] = [];
    const observed: string[] = [];
    e.observe({ started: (t) => observed.push(`started ${t.state}`), ended: (t) => observed.push(`ended ${t.state}`) });
    const turn = e.submit({ ...request('s1', 'first turn', log), lastEventId: 41 });
    expect(turn.state).toBe('queued');
    expect(e.currentTurn('s1')).toBe(turn);
    const result = await turn.done;
    await turn.settled;
    expect(result).toMatchObject({ status: 'ok', content: 'echo: first turn' });
    expect(log).toEqual(['prepare first turn', 'start first turn', 'end first turn']);
    expect(observed).toEqual(['started running', 'ended finished']);
    // The turn's events continue after the session's last persisted one.
    expect(turn.firstEventId).toBe(42);
    expect(e.isLive('s1')).toBe(true);
    expect(e.latestTurn('s1')).toBe(turn);
    expect(e.currentTurn('s1')).toBeUndefined();
    expect(e.stats()).toMatchObject({ live_processes: 1, busy_processes: 0, turns_running: 0, draining: false });

    const next = e.submit(request('s1', 'second turn'));
    await next.done;
    expect(next.firstEventId).toBe(turn.lastEventId + 1);
    // A reconnect after the first turn's last event finds that turn; one inside the next turn finds the next.
    expect(e.turnAfterEvent('s1', turn.lastEventId)).toBe(turn);
    expect(e.turnAfterEvent('s1', next.firstEventId)).toBe(next);
  });

  it('turns of one session run one after another, in the order submitted', async () => {
    f.model.script({ match: 'hold the session', steps: [{ hang: true }] });
    const e = makeEngine();
    const log: string[] = [];
    const first = e.submit(request('s1', 'hold the session', log));
    const second = e.submit(request('s1', 'wait my turn', log));
    await asked('hold the session');
    expect(e.runningTurn('s1')).toBe(first);
    expect(second.state).toBe('queued');
    expect(e.currentTurn('s1')).toBe(second);
    e.interruptAll('s1');
    // Waiting turns are cancelled with the running one.
    await expect(second.done).rejects.toMatchObject({ kind: 'interrupted' });
    expect((await first.done).status).toBe('interrupted');
    await Promise.all([first.settled, second.settled]);
    expect(log).toEqual(['prepare hold the session', 'start hold the session', 'end hold the session']);

    const third = e.submit(request('s1', 'after the others', log));
    await third.settled;
    expect(log.slice(-3)).toEqual(['prepare after the others', 'start after the others', 'end after the others']);
  });

  it('a waiting turn starts once the one before it ends', async () => {
    f.model.script({ match: 'slow first', steps: [{ text: ['one ', 'two ', 'three ', 'four'], chunkDelayMs: 300 }] });
    const e = makeEngine();
    const log: string[] = [];
    const first = e.submit(request('s1', 'slow first', log));
    const second = e.submit(request('s1', 'then me', log));
    await Promise.all([first.done, second.done]);
    await second.settled;
    expect(log).toEqual([
      'prepare slow first',
      'start slow first',
      'end slow first',
      'prepare then me',
      'start then me',
      'end then me',
    ]);
    expect(second.startedAt!).toBeGreaterThanOrEqual(first.finishedAt!);
  });

  it('refuses a turn when SESSION_QUEUE_LIMIT turns already wait behind the running one', async () => {
    f.model.script({ match: 'busy session', steps: [{ hang: true }] });
    const e = makeEngine({ sessionQueueLimit: 1 });
    const running = e.submit(request('s1', 'busy session'));
    const waiting = e.submit(request('s1', 'one waits'));
    expect(() => e.submit(request('s1', 'one too many'))).toThrow(
      expect.objectContaining({ kind: 'session_busy', status: 409 }),
    );
    // Another session is not held up.
    const other = e.submit(request('s2', 'another session'));
    expect((await other.done).content).toBe('echo: another session');
    expect(e.interruptAll('s1')).toBe(2);
    await Promise.all([running.settled, waiting.settled]);
  });

  it('a turn that finds no free turn slot within TURN_QUEUE_TIMEOUT fails as overloaded, without starting', async () => {
    f.model.script({ match: 'hold the slot', steps: [{ hang: true }] });
    const e = makeEngine({ maxConcurrentTurns: 1, turnQueueTimeoutMs: 1_000 });
    const log: string[] = [];
    const holder = e.submit(request('s1', 'hold the slot'));
    await asked('hold the slot');
    expect(e.stats()).toMatchObject({ turns_running: 1, busy_processes: 1 });
    const starved = e.submit(request('s2', 'no slot for me', log));
    await expect(starved.done).rejects.toMatchObject({ kind: 'overloaded', status: 503 });
    expect(log).toEqual([]);
    expect(e.isLive('s2')).toBe(false);
    e.interruptAll('s1');
    await holder.settled;
    expect(e.stats().turns_running).toBe(0);
  });

  it('a launch that fails becomes an engine error: a deleted session is session_gone, anything else process_failed', async () => {
    const e = makeEngine();
    const log: string[] = [];
    const gone = e.submit(
      request('s1', 'deleted meanwhile', log, () =>
        Promise.reject(new ProblemError(404, 'not-found', 'Not found', 'The session was deleted.')),
      ),
    );
    await expect(gone.done).rejects.toMatchObject({ kind: 'session_gone', status: 404 });
    const moved = e.submit(
      request('s1', 'folder swapped', log, () =>
        Promise.reject(new ProblemError(409, 'workspace-moved', 'Workspace folder changed', 'swapped')),
      ),
    );
    await expect(moved.done).rejects.toMatchObject({ kind: 'workspace_moved', status: 409 });
    const broken = e.submit(request('s1', 'broken launch', log, () => Promise.reject(new Error('disk on fire'))));
    await expect(broken.done).rejects.toMatchObject({ kind: 'process_failed' });
    expect(broken.error?.message).toContain('disk on fire');
    // None of them started, so no start or end hook ran, and no process is live.
    expect(log).toEqual(['prepare deleted meanwhile', 'prepare folder swapped', 'prepare broken launch']);
    expect(e.isLive('s1')).toBe(false);
  });

  it("a failing hook is logged and does not change the turn's outcome", async () => {
    const e = makeEngine();
    const turn = e.submit({
      ...request('s1', 'hooks throw'),
      onStart: () => Promise.reject(new Error('start hook broke')),
      onEnd: () => Promise.reject(new Error('end hook broke')),
    });
    expect((await turn.done).content).toBe('echo: hooks throw');
    await turn.settled;
  });

  it('closeSession interrupts its turns, waits for them, and closes the process', async () => {
    f.model.script({ match: 'closing under me', steps: [{ hang: true }] });
    const e = makeEngine();
    const log: string[] = [];
    const turn = e.submit(request('s1', 'closing under me', log));
    await asked('closing under me');
    expect(e.isLive('s1')).toBe(true);
    await e.closeSession('s1');
    expect(turn.finished).toBe(true);
    expect(log.at(-1)).toBe('end closing under me');
    expect(e.isLive('s1')).toBe(false);
    expect(e.latestTurn('s1')).toBeUndefined();
  });

  it('restartSession closes the process; the next turn resumes in a new one', async () => {
    const e = makeEngine();
    const claudeSessionId = crypto.randomUUID();
    await e.submit(request('s1', 'remember plum', [], () => Promise.resolve(cliLaunch(f.cli, { claudeSessionId }))))
      .done;
    await e.restartSession('s1');
    expect(e.isLive('s1')).toBe(false);
    const resumed = e.submit(
      request('s1', 'what fruit?', [], () => Promise.resolve(cliLaunch(f.cli, { claudeSessionId, resume: true }))),
    );
    expect((await resumed.done).session_id).toBe(claudeSessionId);
    expect(e.isLive('s1')).toBe(true);
  });

  it('shutdown lets turns finish within the grace, interrupts the rest, closes every process, and refuses new turns', async () => {
    f.model.script({ match: 'never finishes', steps: [{ hang: true }] });
    const e = makeEngine();
    const quick = e.submit(request('s1', 'quick one'));
    await quick.done;
    const stuck: Turn = e.submit(request('s2', 'never finishes'));
    await asked('never finishes');
    await e.shutdown(500);
    expect(stuck.finished).toBe(true);
    expect(stuck.result?.status ?? stuck.error?.kind).toMatch(/interrupted/);
    expect(e.stats()).toMatchObject({ live_processes: 0, draining: true });
    expect(e.isLive('s1')).toBe(false);
    expect(() => e.submit(request('s1', 'too late'))).toThrow(
      expect.objectContaining({ kind: 'shutting_down', status: 503 }),
    );
  });
});

describe('Engine: a first turn on a warm spare', () => {
  /** A request whose first launch carries `spare` and whose cold one (`prepare({ cold: true })`) is `cold`. */
  function onSpare(
    sessionId: string,
    message: string,
    spare: Spare,
    log: string[],
    cold: () => Promise<RunnerLaunch> = () => Promise.resolve(cliLaunch(f.cli)),
  ): TurnRequest {
    return {
      ...request(sessionId, message, log),
      lastEventId: 9,
      prepare: (opts) => {
        log.push(opts?.cold ? 'prepare cold' : 'prepare warm');
        return opts?.cold ? cold() : Promise.resolve({ ...cliLaunch(f.cli), spare });
      },
    };
  }
  const refusing = () => cliSpare(f.cli, join(f.dir, 'no-such-folder'));
  /** A spare (a double) whose process dies once the prompt reaches it, before answering the claim: spare_exited. */
  const dying = (): Spare => {
    const spare = new Spare('spare-dying', { stderr: () => undefined, killed: () => undefined });
    let reject!: (err: Error) => void;
    const claimed = new Promise<never>((_, r) => (reject = r));
    const process = {
      claimed,
      exited: Promise.resolve(),
      close: () => undefined,
      claim: ({ prompt }: { prompt: AsyncIterable<SDKUserMessage> }) => {
        const next = async () => {
          await prompt[Symbol.asyncIterator]().next();
          reject(new Error('spare_exited: the spare process exited before answering the claim'));
          throw new Error('the process exited');
        };
        return { [Symbol.asyncIterator]: () => ({ next }), close: () => undefined, interrupt: () => Promise.resolve() };
      },
    };
    spare.process = process as unknown as SpareProcess;
    spare.start = { options: {}, release: () => undefined };
    spare.setup = {
      options: {},
      relay: new HookRelay(),
      profile: undefined as never,
      wall: undefined as unknown as WallPlan,
      workspace: f.cli.workDir,
      configDir: f.cli.workDir,
      tmpDir: f.cli.workDir,
      discard: () => Promise.resolve(),
    };
    return spare;
  };
  const eventsOf = async (turn: Turn) => {
    const out: Array<{ id: number; type: string }> = [];
    for await (const e of turn.events(0)) out.push({ id: e.id, type: e.event.type });
    return out;
  };

  it('runs on the spare when it takes the claim', async () => {
    const e = makeEngine();
    const claims: string[] = [];
    e.spares.onClaim((r) => claims.push(r));
    const log: string[] = [];
    const turn = e.submit(onSpare('s1', 'warm and taken', await cliSpare(f.cli, f.cli.workDir), log));
    expect((await turn.done).content).toBe('echo: warm and taken');
    await turn.settled;
    expect(log).toEqual(['prepare warm', 'start warm and taken', 'end warm and taken']);
    expect(claims).toEqual([]);
  });

  it('whose spare refuses the claim runs once more on a cold process, as one turn: begun, started and recorded once', async () => {
    const e = makeEngine();
    const claims: string[] = [];
    e.spares.onClaim((r) => claims.push(r));
    const observed: string[] = [];
    e.observe({ started: () => observed.push('started'), ended: () => observed.push('ended') });
    const log: string[] = [];
    const spare = await refusing();
    const turn = e.submit(onSpare('s1', 'refused then cold', spare, log));
    const id = turn.id;
    const result = await turn.done;
    await turn.settled;
    expect(result).toMatchObject({ status: 'ok', content: 'echo: refused then cold' });
    expect(turn.id).toBe(id);
    expect(log).toEqual(['prepare warm', 'start refused then cold', 'prepare cold', 'end refused then cold']);
    expect(observed).toEqual(['started', 'ended']);
    expect(claims).toEqual(['refused']);
    // Its events follow the session's last one without a gap, with no error among them and one result.
    const events = await eventsOf(turn);
    expect(events[0]!.id).toBe(10);
    expect(events.map((x) => x.id)).toEqual(events.map((_, i) => 10 + i));
    expect(events.filter((x) => x.type === 'error')).toEqual([]);
    expect(events.filter((x) => x.type === 'result')).toHaveLength(1);
    expect(events.filter((x) => x.type === 'session')).toHaveLength(1);
    // The model was asked once (the spare sent nothing on), and the spare's process is gone; the cold one is live.
    expect(f.model.mainRequests().filter((r) => r.prompt === 'refused then cold')).toHaveLength(1);
    await spare.process!.exited;
    expect(e.isLive('s1')).toBe(true);
    expect((await e.submit(request('s1', 'and then')).done).content).toBe('echo: and then');
  });

  it('whose spare dies before answering the claim runs cold too (nothing ran on it)', async () => {
    const e = makeEngine();
    const claims: string[] = [];
    e.spares.onClaim((r) => claims.push(r));
    const log: string[] = [];
    const turn = e.submit(onSpare('s1', 'spare died', dying(), log));
    expect((await turn.done).content).toBe('echo: spare died');
    await turn.settled;
    expect(log).toEqual(['prepare warm', 'start spare died', 'prepare cold', 'end spare died']);
    expect(claims).toEqual(['refused']);
    expect((await eventsOf(turn)).filter((x) => x.type === 'error')).toEqual([]);
  });

  it('whose cold retry cannot start fails as a failed start does, once', async () => {
    const e = makeEngine();
    const claims: string[] = [];
    e.spares.onClaim((r) => claims.push(r));
    const log: string[] = [];
    const turn = e.submit(
      onSpare('s1', 'refused, then no start', await refusing(), log, () => Promise.reject(new Error('disk on fire'))),
    );
    await expect(turn.done).rejects.toMatchObject({ kind: 'process_failed' });
    await turn.settled;
    expect(turn.error?.message).toContain('disk on fire');
    expect(log).toEqual(['prepare warm', 'start refused, then no start', 'prepare cold', 'end refused, then no start']);
    expect(claims).toEqual(['refused']);
    const events = await eventsOf(turn);
    expect(events.map((x) => x.type)).toEqual(['error']);
    expect(events[0]!.id).toBe(10);
    expect(e.isLive('s1')).toBe(false);
  });

  it('interrupted once its spare refused, is not started cold', async () => {
    const e = makeEngine();
    const log: string[] = [];
    const spare = await refusing();
    const turn: Turn = e.submit(
      onSpare('s1', 'refused, then stopped', spare, log, () => {
        turn.interrupt('client');
        return Promise.resolve(cliLaunch(f.cli));
      }),
    );
    await expect(turn.done).rejects.toMatchObject({ kind: 'interrupted' });
    await turn.settled;
    expect(log).toEqual(['prepare warm', 'start refused, then stopped', 'prepare cold', 'end refused, then stopped']);
    expect(e.isLive('s1')).toBe(false);
  });
});
