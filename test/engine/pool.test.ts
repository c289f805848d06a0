// Unit tests of RunnerPool: the cap on live processes (in all and per key), eviction of the least recently used idle one, refusal when all are busy, reuse while the options fit, closing.
import { afterEach, describe, expect, it } from 'vitest';
import { RunnerPool } from '../../src/engine/pool.js';
import type { SessionRunner, TurnLimits } from '../../src/engine/runner.js';
import { Turn } from '../../src/engine/turn.js';
import { cliLaunch, quietLog } from '../support/launch.js';
import { useProcessFixture } from '../support/process-fixture.js';
import { eventually } from '../support/wait.js';

const f = useProcessFixture('cc-api-pool-');
const LIMITS: TurnLimits = { timeoutMs: 120_000, stallMs: 0 };
const HOUR = 3_600_000;

let pool: RunnerPool | undefined;
afterEach(async () => {
  await pool?.closeAll();
  pool = undefined;
});

function makePool(capacity: number, perKey = capacity, idleMs = HOUR): RunnerPool {
  pool = new RunnerPool(capacity, idleMs, quietLog, perKey);
  return pool;
}

/** Runs one turn on the runner the pool reserved, so it becomes idle (and most recently used). */
async function turnOn(runner: SessionRunner, message = `turn on ${runner.sessionId}`): Promise<void> {
  const turn = new Turn(runner.sessionId, message);
  turn.begin(1);
  await runner.run(turn, LIMITS);
  await turn.done;
}

describe('RunnerPool', () => {
  it('reserves a new runner as busy, and hands the same live one back while its options fit', async () => {
    const p = makePool(2);
    const launch = cliLaunch(f.cli);
    const runner = await p.obtain('a', launch, 'key-1');
    expect(runner.state).toBe('busy');
    expect(p.has('a')).toBe(true);
    expect(p.size).toBe(1);
    expect(p.busy).toBe(1);
    expect(p.heldBy('key-1')).toBe(1);
    await turnOn(runner);
    expect(p.busy).toBe(0);

    const again = await p.obtain('a', cliLaunch(f.cli), 'key-1');
    expect(again).toBe(runner);
    expect(again.state).toBe('busy');
    await turnOn(again, 'second turn');
  });

  it('changed options close the live process and start a new one for the session', async () => {
    const p = makePool(2);
    const first = await p.obtain('a', cliLaunch(f.cli), 'key-1');
    await turnOn(first);
    const changed = await p.obtain('a', cliLaunch(f.cli, { session: { system_prompt: 'Speak briefly.' } }), 'key-1');
    expect(changed).not.toBe(first);
    expect(first.state).toBe('closed');
    expect(p.size).toBe(1);
    await turnOn(changed);
  });

  it('when full, closes the least recently used idle process for a new session', async () => {
    const p = makePool(2);
    const a = await p.obtain('a', cliLaunch(f.cli), 'key-1');
    await turnOn(a);
    const b = await p.obtain('b', cliLaunch(f.cli), 'key-2');
    await turnOn(b);
    // a was used before b: a goes.
    const c = await p.obtain('c', cliLaunch(f.cli), 'key-2');
    expect(p.has('a')).toBe(false);
    expect(a.state).toBe('closed');
    expect(p.has('b')).toBe(true);
    expect(p.size).toBe(2);
    await turnOn(c);
  });

  it('refuses with overloaded when full and every process is busy, and starts nothing', async () => {
    const p = makePool(1);
    const a = await p.obtain('a', cliLaunch(f.cli), 'key-1');
    await expect(p.obtain('b', cliLaunch(f.cli), 'key-2')).rejects.toMatchObject({
      kind: 'overloaded',
      status: 503,
      extra: { retryAfterSeconds: 5 },
      message: 'All 1 live Claude Code processes are busy.',
    });
    expect(p.has('b')).toBe(false);
    expect(p.size).toBe(1);
    expect(a.state).toBe('busy');
    await turnOn(a);
  });

  it("a key at its share closes its own least recently used idle process, never another key's; all busy is refused", async () => {
    const p = makePool(2, 1);
    const a = await p.obtain('a', cliLaunch(f.cli), 'key-1');
    await turnOn(a);
    const b = await p.obtain('b', cliLaunch(f.cli), 'key-2');
    // key-1 holds its one process (a, idle): a new session of key-1 replaces it, and key-2's stays.
    const c = await p.obtain('c', cliLaunch(f.cli), 'key-1');
    expect(p.has('a')).toBe(false);
    expect(p.has('b')).toBe(true);
    expect(p.heldBy('key-1')).toBe(1);
    // key-1's only process is busy: refused, though the pool itself is not full after a close.
    await p.close('b');
    await expect(p.obtain('d', cliLaunch(f.cli), 'key-1')).rejects.toMatchObject({
      kind: 'overloaded',
      message: expect.stringContaining('MAX_LIVE_SESSIONS_PER_KEY'),
    });
    expect(b.state).toBe('closed');
    await turnOn(c);
  });

  it('close ends the process and forgets it; closing an unknown session does nothing', async () => {
    const p = makePool(2);
    const a = await p.obtain('a', cliLaunch(f.cli), 'key-1');
    await turnOn(a);
    await p.close('a');
    expect(a.state).toBe('closed');
    expect(p.has('a')).toBe(false);
    expect(p.heldBy('key-1')).toBe(0);
    await p.close('never-there');
    expect(p.size).toBe(0);
  });

  it('a process that ends on its own leaves the pool', async () => {
    const p = makePool(2);
    const a = await p.obtain('a', cliLaunch(f.cli), 'key-1');
    await turnOn(a);
    await a.close();
    await eventually(() => !p.has('a'), 30_000, 'the pool to forget the ended process');
    expect(p.size).toBe(0);
  });

  it('closes a process idle for longer than the idle limit', async () => {
    const p = makePool(2, 2, 500);
    const a = await p.obtain('a', cliLaunch(f.cli), 'key-1');
    await turnOn(a);
    await eventually(() => !p.has('a'), 30_000, 'the idle process to be closed');
    await a.exited;
    expect(a.state).toBe('closed');
  });

  it('closeAll ends every process', async () => {
    const p = makePool(2);
    const a = await p.obtain('a', cliLaunch(f.cli), 'key-1');
    const b = await p.obtain('b', cliLaunch(f.cli), 'key-2');
    await p.closeAll();
    expect([a.state, b.state]).toEqual(['closed', 'closed']);
    expect(p.size).toBe(0);
  });
});
