// Unit tests of Turn: event numbering, replay after an id, live readers, outcome, interrupts.
import { describe, expect, it, vi } from 'vitest';
import { EngineError } from '../../src/engine/errors.js';
import { EMPTY_USAGE, type NumberedEvent, type TurnResult } from '../../src/engine/events.js';
import { Turn } from '../../src/engine/turn.js';

const result = (turn: Turn, content = 'done'): TurnResult => ({
  turn_id: turn.id,
  session_id: turn.sessionId,
  status: 'ok',
  content,
  cost_usd: 0,
  usage: EMPTY_USAGE,
  duration_ms: 1,
  num_turns: 1,
  tools_used: [],
  stop_reason: 'end_turn',
  model: null,
});

const text = (t: string) => ({ type: 'text' as const, text: t });

async function collect(it: AsyncIterable<NumberedEvent>): Promise<NumberedEvent[]> {
  const out: NumberedEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** Lets pending promise callbacks run. */
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('Turn', () => {
  it('numbers events from the id given to begin', () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(7);
    turn.emit(text('a'));
    turn.emit(text('b'));
    expect(turn.state).toBe('running');
    expect(turn.firstEventId).toBe(7);
    expect(turn.lastEventId).toBe(8);
  });

  it('drops events emitted before begin', async () => {
    const turn = new Turn('s1', 'hi');
    turn.emit(text('early'));
    turn.begin(1);
    turn.emit(text('a'));
    turn.finish(result(turn));
    const events = await collect(turn.events(0));
    expect(events.map((e) => e.event.type)).toEqual(['text', 'result']);
    expect(events.map((e) => e.id)).toEqual([1, 2]);
  });

  it('a second begin does not renumber', () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(5);
    turn.emit(text('a'));
    turn.begin(100);
    expect(turn.lastEventId).toBe(5);
  });

  it('finish emits a result event, then ends', async () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(1);
    const r = result(turn, 'answer');
    turn.finish(r);
    expect(turn.finished).toBe(true);
    expect(turn.result).toEqual(r);
    expect(turn.finishedAt).toBeTypeOf('number');
    await expect(turn.done).resolves.toEqual(r);
    const events = await collect(turn.events(0));
    expect(events).toHaveLength(1);
    expect(events[0]!.event).toMatchObject({ type: 'result', content: 'answer' });
    turn.emit(text('late'));
    expect(turn.lastEventId).toBe(1);
  });

  it('fail of a running turn emits an error event with a problem document', async () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(1);
    const err = new EngineError('api_error', 'upstream broke', { upstreamStatus: 500 });
    turn.fail(err);
    expect(turn.error).toBe(err);
    await expect(turn.done).rejects.toBe(err);
    const events = await collect(turn.events(0));
    expect(events).toHaveLength(1);
    expect(events[0]!.event).toEqual({
      type: 'error',
      problem: expect.objectContaining({
        status: 502,
        title: 'Claude API error',
        detail: 'upstream broke',
        upstream_status: 500,
      }),
    });
  });

  it('fail of a queued turn emits nothing', async () => {
    const turn = new Turn('s1', 'hi');
    turn.fail(new EngineError('overloaded', 'busy'));
    expect(turn.finished).toBe(true);
    expect(turn.lastEventId).toBe(-1);
    expect(await collect(turn.events(-1))).toEqual([]);
  });

  it('finish after fail (and fail after finish) is ignored', async () => {
    const a = new Turn('s1', 'hi');
    a.begin(1);
    a.finish(result(a));
    a.fail(new EngineError('api_error', 'x'));
    expect(a.error).toBeUndefined();
    expect(a.lastEventId).toBe(1);
    const b = new Turn('s1', 'hi');
    b.begin(1);
    b.fail(new EngineError('api_error', 'x'));
    b.finish(result(b));
    expect(b.result).toBeUndefined();
    await expect(b.done).rejects.toBeInstanceOf(EngineError);
  });

  it('events(afterId) replays only later events, then follows live ones until the end', async () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(1);
    turn.emit(text('1'));
    turn.emit(text('2'));
    turn.emit(text('3'));
    const reading = collect(turn.events(2));
    await tick();
    turn.emit(text('4'));
    await tick();
    turn.finish(result(turn));
    const events = await reading;
    expect(events.map((e) => e.id)).toEqual([3, 4, 5]);
    expect(events.map((e) => e.event.type)).toEqual(['text', 'text', 'result']);
  });

  // BUG: the afterId filter is applied only to the log as it is at the call; ids <= afterId emitted later are yielded.
  it('events(afterId) skips ids <= afterId even when they are emitted after the reader started', async () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(1);
    const reading = collect(turn.events(1));
    await tick();
    turn.emit(text('1'));
    turn.emit(text('2'));
    turn.finish(result(turn));
    expect((await reading).map((e) => e.id)).toEqual([2, 3]);
  });

  it('events after the last id of a finished turn is empty', async () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(1);
    turn.emit(text('1'));
    turn.finish(result(turn));
    expect(await collect(turn.events(turn.lastEventId))).toEqual([]);
  });

  it('serves several concurrent readers the same events', async () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(1);
    const readers = [collect(turn.events(0)), collect(turn.events(0))];
    await tick();
    turn.emit(text('a'));
    readers.push(collect(turn.events(1)));
    turn.emit(text('b'));
    await tick();
    turn.emit(text('c'));
    turn.finish(result(turn));
    const [r1, r2, r3] = await Promise.all(readers);
    expect(r1!.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    expect(r2).toEqual(r1);
    expect(r3!.map((e) => e.id)).toEqual([2, 3, 4]);
  });

  it('an abort signal ends a waiting reader', async () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(1);
    turn.emit(text('a'));
    const ac = new AbortController();
    const reading = collect(turn.events(0, ac.signal));
    await tick();
    ac.abort();
    const events = await reading;
    expect(events.map((e) => e.id)).toEqual([1]);
    expect(turn.finished).toBe(false);
  });

  it('covers() holds its own ids and the id just before the first', () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(10);
    turn.emit(text('a'));
    turn.emit(text('b'));
    expect(turn.covers(8)).toBe(false);
    expect(turn.covers(9)).toBe(true);
    expect(turn.covers(10)).toBe(true);
    expect(turn.covers(11)).toBe(true);
    expect(turn.covers(12)).toBe(false);
  });

  it('interrupt() of a queued turn fails it with kind interrupted', async () => {
    const turn = new Turn('s1', 'hi');
    turn.interrupt('client');
    expect(turn.interruptRequested).toBe('client');
    expect(turn.finished).toBe(true);
    expect(turn.error?.kind).toBe('interrupted');
    await expect(turn.done).rejects.toMatchObject({ kind: 'interrupted', status: 409 });
  });

  it('interrupt() of a running turn calls interruptHandler once', () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(1);
    const handler = vi.fn();
    turn.interruptHandler = handler;
    turn.interrupt('timeout');
    turn.interrupt('client');
    expect(handler).toHaveBeenCalledTimes(1);
    expect(handler).toHaveBeenCalledWith('timeout');
    expect(turn.interruptRequested).toBe('timeout');
    expect(turn.finished).toBe(false);
  });

  it('interrupt() of a finished turn does nothing', () => {
    const turn = new Turn('s1', 'hi');
    turn.begin(1);
    const handler = vi.fn();
    turn.interruptHandler = handler;
    turn.finish(result(turn));
    turn.interrupt('client');
    expect(handler).not.toHaveBeenCalled();
    expect(turn.interruptRequested).toBeUndefined();
  });

  it('whenStarted() resolves on begin', async () => {
    const turn = new Turn('s1', 'hi');
    let started = false;
    void turn.whenStarted().then(() => (started = true));
    await tick();
    expect(started).toBe(false);
    turn.begin(1);
    await tick();
    expect(started).toBe(true);
  });

  it('whenStarted() also resolves when a queued turn fails', async () => {
    const turn = new Turn('s1', 'hi');
    const started = turn.whenStarted();
    turn.fail(new EngineError('overloaded', 'no slot', { retryAfterSeconds: 30 }));
    await expect(started).resolves.toBeUndefined();
    expect(turn.state).toBe('finished');
    expect(turn.error?.kind).toBe('overloaded');
  });

  it('a failed turn whose done nobody awaits is not an unhandled rejection', async () => {
    const seen: unknown[] = [];
    const onUnhandled = (reason: unknown) => seen.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const queued = new Turn('s1', 'a');
      queued.fail(new EngineError('interrupted', 'x'));
      const running = new Turn('s1', 'b');
      running.begin(1);
      running.fail(new EngineError('api_error', 'y'));
      await tick();
      await tick();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(seen).toEqual([]);
  });
});
