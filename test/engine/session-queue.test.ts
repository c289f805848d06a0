// Unit tests of SessionQueue: one turn at a time per session, strictly first in, first out.
import { describe, expect, it } from 'vitest';
import { SessionQueue } from '../../src/engine/session-queue.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('SessionQueue', () => {
  it('lets the first caller in at once', async () => {
    const q = new SessionQueue();
    const release = await q.enter();
    expect(release).toBeTypeOf('function');
  });

  it('makes the next caller wait until the previous one releases', async () => {
    const q = new SessionQueue();
    const first = await q.enter();
    let entered = false;
    const second = q.enter().then((r) => {
      entered = true;
      return r;
    });
    await tick();
    expect(entered).toBe(false);
    first();
    await tick();
    expect(entered).toBe(true);
    (await second)();
  });

  it('is strictly FIFO', async () => {
    const q = new SessionQueue();
    const order: number[] = [];
    const releases: Array<() => void> = [];
    const entries = [0, 1, 2, 3, 4].map((i) =>
      q.enter().then((release) => {
        order.push(i);
        releases[i] = release;
      }),
    );
    await tick();
    expect(order).toEqual([0]);
    for (let i = 0; i < 5; i++) {
      releases[i]!();
      await tick();
      expect(order).toEqual([0, 1, 2, 3, 4].slice(0, Math.min(i + 2, 5)));
    }
    await Promise.all(entries);
  });

  it('a double release does not let two later callers in at once', async () => {
    const q = new SessionQueue();
    const first = await q.enter();
    const order: string[] = [];
    let releaseSecond: (() => void) | undefined;
    void q.enter().then((r) => {
      order.push('second');
      releaseSecond = r;
    });
    void q.enter().then(() => order.push('third'));
    await tick();
    first();
    first();
    await tick();
    expect(order).toEqual(['second']);
    releaseSecond!();
    releaseSecond!();
    await tick();
    expect(order).toEqual(['second', 'third']);
  });

  it('after everyone released, a new caller enters at once', async () => {
    const q = new SessionQueue();
    (await q.enter())();
    (await q.enter())();
    let entered = false;
    void q.enter().then(() => (entered = true));
    await tick();
    expect(entered).toBe(true);
  });
});
