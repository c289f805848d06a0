// Unit tests of TurnSlots, the FIFO cap on concurrent turns overall and per key, with a wait limit (fake timers, no sleeps).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EngineError } from '../../src/engine/errors.js';
import { TurnSlots } from '../../src/engine/turn-slots.js';

/** Records the order in which acquire() promises settle. */
function track(p: Promise<() => void>, order: string[], name: string) {
  const state: { release?: () => void; error?: unknown } = {};
  p.then(
    (release) => {
      order.push(name);
      state.release = release;
    },
    (error: unknown) => {
      order.push(`${name}:rejected`);
      state.error = error;
    },
  );
  return state;
}

describe('TurnSlots', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('grants up to capacity at once, then makes the next wait', async () => {
    const slots = new TurnSlots(2, 10_000);
    const order: string[] = [];
    const a = track(slots.acquire(), order, 'a');
    const b = track(slots.acquire(), order, 'b');
    const c = track(slots.acquire(), order, 'c');
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['a', 'b']);
    expect(slots.inUse).toBe(2);
    expect(slots.waiting).toBe(1);
    a.release!();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(slots.inUse).toBe(2);
    expect(slots.waiting).toBe(0);
    b.release!();
    c.release!();
    expect(slots.inUse).toBe(0);
  });

  it('grants waiters in FIFO order', async () => {
    const slots = new TurnSlots(1, 10_000);
    const order: string[] = [];
    const first = track(slots.acquire(), order, 'first');
    const waiters = ['w1', 'w2', 'w3'].map((n) => track(slots.acquire(), order, n));
    await vi.advanceTimersByTimeAsync(0);
    first.release!();
    await vi.advanceTimersByTimeAsync(0);
    waiters[0]!.release!();
    await vi.advanceTimersByTimeAsync(0);
    waiters[1]!.release!();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['first', 'w1', 'w2', 'w3']);
  });

  it('a new caller does not jump ahead of waiters when a slot frees', async () => {
    const slots = new TurnSlots(1, 10_000);
    const order: string[] = [];
    const a = track(slots.acquire(), order, 'a');
    track(slots.acquire(), order, 'b');
    await vi.advanceTimersByTimeAsync(0);
    a.release!();
    track(slots.acquire(), order, 'c');
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['a', 'b']);
    expect(slots.waiting).toBe(1);
  });

  it('releasing twice is harmless', async () => {
    const slots = new TurnSlots(1, 10_000);
    const order: string[] = [];
    const a = track(slots.acquire(), order, 'a');
    const b = track(slots.acquire(), order, 'b');
    const c = track(slots.acquire(), order, 'c');
    await vi.advanceTimersByTimeAsync(0);
    a.release!();
    a.release!();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['a', 'b']);
    expect(slots.inUse).toBe(1);
    expect(slots.waiting).toBe(1);
    b.release!();
    await vi.advanceTimersByTimeAsync(0);
    c.release!();
    c.release!();
    expect(slots.inUse).toBe(0);
  });

  it('a waiter past the wait limit rejects with overloaded (503, Retry-After) and leaves the queue', async () => {
    const slots = new TurnSlots(1, 2_500);
    const order: string[] = [];
    const a = track(slots.acquire(), order, 'a');
    const late = track(slots.acquire(), order, 'late');
    await vi.advanceTimersByTimeAsync(2_499);
    expect(order).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(1);
    expect(order).toEqual(['a', 'late:rejected']);
    expect(late.error).toBeInstanceOf(EngineError);
    const err = late.error as EngineError;
    expect(err.kind).toBe('overloaded');
    expect(err.status).toBe(503);
    expect(err.extra.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(slots.waiting).toBe(0);
    // the rejected waiter must not be granted the slot when it frees
    a.release!();
    expect(slots.inUse).toBe(0);
    const next = track(slots.acquire(), order, 'next');
    await vi.advanceTimersByTimeAsync(0);
    expect(next.release).toBeTypeOf('function');
  });

  it('retryAfterSeconds is at least 1 even for a sub-second wait limit', async () => {
    const slots = new TurnSlots(1, 200);
    const order: string[] = [];
    track(slots.acquire(), order, 'a');
    const late = track(slots.acquire(), order, 'late');
    await vi.advanceTimersByTimeAsync(200);
    expect((late.error as EngineError).extra.retryAfterSeconds).toBe(1);
  });

  it('a granted waiter is not rejected later by its timer', async () => {
    const slots = new TurnSlots(1, 1_000);
    const order: string[] = [];
    const a = track(slots.acquire(), order, 'a');
    const b = track(slots.acquire(), order, 'b');
    await vi.advanceTimersByTimeAsync(500);
    a.release!();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(order).toEqual(['a', 'b']);
    expect(b.error).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an abort signal rejects a waiter with interrupted and removes it', async () => {
    const slots = new TurnSlots(1, 10_000);
    const order: string[] = [];
    const a = track(slots.acquire(), order, 'a');
    const ac = new AbortController();
    const b = track(slots.acquire(ac.signal), order, 'b');
    const c = track(slots.acquire(), order, 'c');
    await vi.advanceTimersByTimeAsync(0);
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['a', 'b:rejected']);
    expect((b.error as EngineError).kind).toBe('interrupted');
    expect(slots.waiting).toBe(1);
    a.release!();
    await vi.advanceTimersByTimeAsync(0);
    expect(order).toEqual(['a', 'b:rejected', 'c']);
    expect(c.release).toBeTypeOf('function');
  });

  // BUG: a signal that is already aborted is never noticed (the 'abort' event has fired), so the waiter stays queued.
  it('an already-aborted signal rejects a waiter with interrupted at once', async () => {
    const slots = new TurnSlots(1, 10_000);
    const order: string[] = [];
    track(slots.acquire(), order, 'a');
    const b = track(slots.acquire(AbortSignal.abort()), order, 'b');
    await vi.advanceTimersByTimeAsync(0);
    expect((b.error as EngineError | undefined)?.kind).toBe('interrupted');
    expect(slots.waiting).toBe(0);
  });

  describe('per-key share', () => {
    it("lets another key's turn start at once while one key's backlog waits at its share", async () => {
      const slots = new TurnSlots(4, 10_000, 2);
      const order: string[] = [];
      const flood = ['a1', 'a2', 'a3', 'a4', 'a5'].map((n) =>
        track(slots.acquire(undefined, { owner: 'A' }), order, n),
      );
      await vi.advanceTimersByTimeAsync(0);
      expect(order).toEqual(['a1', 'a2']);
      expect(slots.heldBy('A')).toBe(2);
      expect(slots.waiting).toBe(3);
      // Free slots and a backlog of another key do not hold B up.
      const b = track(slots.acquire(undefined, { owner: 'B' }), order, 'b');
      await vi.advanceTimersByTimeAsync(0);
      expect(order).toEqual(['a1', 'a2', 'b']);
      // A slot A frees goes to A's oldest waiter, in order.
      flood[0]!.release!();
      await vi.advanceTimersByTimeAsync(0);
      expect(order).toEqual(['a1', 'a2', 'b', 'a3']);
      expect(slots.heldBy('A')).toBe(2);
      b.release!();
      expect(slots.inUse).toBe(2);
      expect(slots.waiting).toBe(2);
    });

    it('serves the oldest waiter under its share first when the whole capacity is busy', async () => {
      const slots = new TurnSlots(2, 10_000, 1);
      const order: string[] = [];
      const a = track(slots.acquire(undefined, { owner: 'A' }), order, 'a');
      const b = track(slots.acquire(undefined, { owner: 'B' }), order, 'b');
      track(slots.acquire(undefined, { owner: 'A' }), order, 'a2');
      track(slots.acquire(undefined, { owner: 'C' }), order, 'c');
      await vi.advanceTimersByTimeAsync(0);
      expect(order).toEqual(['a', 'b']);
      // B's slot frees: A is at its share, so C (queued after A's second turn) goes first.
      b.release!();
      await vi.advanceTimersByTimeAsync(0);
      expect(order).toEqual(['a', 'b', 'c']);
      a.release!();
      await vi.advanceTimersByTimeAsync(0);
      expect(order).toEqual(['a', 'b', 'c', 'a2']);
    });

    it("a key's waiter past the wait limit gets 503 naming MAX_CONCURRENT_TURNS_PER_KEY", async () => {
      const slots = new TurnSlots(4, 1_000, 1);
      const order: string[] = [];
      track(slots.acquire(undefined, { owner: 'A' }), order, 'a');
      const late = track(slots.acquire(undefined, { owner: 'A' }), order, 'late');
      await vi.advanceTimersByTimeAsync(1_000);
      const err = late.error as EngineError;
      expect(err).toMatchObject({ kind: 'overloaded', status: 503, extra: { retryAfterSeconds: 1 } });
      expect(err.message).toContain('MAX_CONCURRENT_TURNS_PER_KEY');
    });
  });
});
