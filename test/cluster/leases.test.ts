// Session leases and budget holds in Redis, as two nodes see them: one owner at a time, epochs that grow, takeover after a lapse, one budget for both.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionLeases } from '../../src/cluster/index.js';
import { EngineError } from '../../src/engine/errors.js';
import { ProblemError } from '../../src/problems.js';
import { Budgets, type Payer } from '../../src/security/budgets.js';
import { SharedHolds } from '../../src/security/shared-holds.js';
import { createStore, type Store } from '../../src/store/index.js';
import { connectRedis } from '../../src/store/redis.js';
import { needs, REDIS_TEST_URL } from '../support/needs.js';
import { eventually } from '../support/wait.js';

const missing = await needs('the lease and budget hold tests', 'redis');
const log = pino({ level: 'silent' });

describe.skipIf(missing)('leases and holds in Redis', () => {
  let redis: Redis;
  let prefix: string;
  const made: SessionLeases[] = [];
  const leases = (nodeId: string, leaseMs: number, inUse: (id: string) => boolean = () => true) => {
    const l = new SessionLeases({ redis, keyPrefix: prefix, nodeId, leaseMs, log, inUse });
    made.push(l);
    return l;
  };

  beforeAll(async () => {
    redis = await connectRedis(REDIS_TEST_URL);
    prefix = `cc-test-${randomBytes(4).toString('hex')}:`;
  });
  afterEach(async () => {
    await Promise.all(made.splice(0).map((l) => l.close()));
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('gives a session to one node at a time: the other is refused (409 owned-elsewhere) and told who holds it', async () => {
    const a = leases('a', 10_000);
    const b = leases('b', 10_000);
    const outcomes = await Promise.all([a.tryClaim('s1'), b.tryClaim('s1')]);
    expect(outcomes.filter((o) => o.held)).toHaveLength(1);
    const loser = outcomes.find((o) => !o.held)!;
    const winner = outcomes[0].held ? 'a' : 'b';
    expect(loser.owner).toBe(winner);
    const refused = await (winner === 'a' ? b : a).claim('s1').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EngineError);
    expect((refused as EngineError).toProblem()).toMatchObject({ type: '/problems/owned-elsewhere', status: 409 });
    expect(await a.ownerOf('s1')).toMatchObject({ node: winner, epoch: 1 });
    // The holder claiming again extends its lease, same epoch, not fresh.
    expect(await (winner === 'a' ? a : b).tryClaim('s1')).toEqual({ held: true, epoch: 1, fresh: false });
  });

  it('a refused claim asks the owner to let the session go when idle; the other nodes are not asked', async () => {
    const asked: Record<string, string[]> = { a: [], c: [] };
    const ask = (node: 'a' | 'c', leaseMs = 10_000) => {
      const l = new SessionLeases({
        redis,
        keyPrefix: prefix,
        nodeId: node,
        leaseMs,
        log,
        inUse: () => false,
        onReleaseAsked: (id) => asked[node]!.push(id),
      });
      made.push(l);
      return l;
    };
    const a = ask('a');
    ask('c');
    const b = leases('b', 10_000);
    expect((await a.tryClaim('s-release')).held).toBe(true);
    // Subscriptions are made as each node starts; a claim that races one is simply asked again by its retry.
    await eventually(async () => {
      await b.claim('s-release').catch(() => undefined);
      return asked.a!.length > 0 ? true : undefined;
    }, 10_000);
    expect(asked.a).toContain('s-release');
    expect(asked.c).toEqual([]);
    // Once the owner lets it go (its process closed), the retry takes it.
    a.release('s-release');
    await eventually(async () => ((await b.tryClaim('s-release')).held ? true : undefined), 10_000);
  });

  it('a release by a node that no longer holds the lease deletes nothing (compare-and-delete)', async () => {
    const a = leases('a', 10_000, () => false);
    const b = leases('b', 10_000);
    await a.tryClaim('s2');
    await redis.del(`${prefix}lease:s2`); // a's lease is gone (as if it lapsed) …
    expect((await b.tryClaim('s2')).epoch).toBe(2); // … and b took it over, with a higher epoch
    a.release('s2');
    await a.close();
    expect(await b.ownerOf('s2')).toMatchObject({ node: 'b', epoch: 2 });
  });

  it('a node that stops renewing loses the session after the lease period, and the next owner gets a higher epoch', async () => {
    const dead = leases('dead', 300);
    await dead.tryClaim('s3');
    await dead.close(); // releases
    const a = leases('dead2', 300);
    expect(await a.tryClaim('s3')).toMatchObject({ held: true, epoch: 2, fresh: true });
    // Simulate a crash: the timer stops without a release; the key lapses on its own.
    await redis.pexpire(`${prefix}lease:s3`, 200);
    made.splice(made.indexOf(a), 1);
    // The renewal timer is private: stopping it is the crash.
    clearInterval(a['timer']);
    let owner = await a.ownerOf('s3');
    while (owner) {
      await new Promise((r) => setTimeout(r, 50)); // waiting for Redis to expire the key
      owner = await a.ownerOf('s3');
    }
    const b = leases('b', 10_000);
    expect(await b.tryClaim('s3')).toMatchObject({ held: true, epoch: 3, fresh: true });
  });

  it('fencing: a node learns that another took its session over; its own release does not fence it out', async () => {
    const a = leases('a', 10_000, () => false);
    const b = leases('b', 10_000);
    const { epoch } = await a.tryClaim('s5');
    expect(a.epochOf('s5')).toBe(epoch);
    expect(await a.stillOwner('s5', epoch)).toBe(true);
    a.release('s5'); // its process ended: the lease is freed …
    let owner = await a.ownerOf('s5');
    while (owner) owner = await a.ownerOf('s5'); // (the release is sent without waiting)
    expect(a.epochOf('s5')).toBeUndefined();
    expect(await a.stillOwner('s5', epoch)).toBe(true); // … and its turn may still record its end
    await b.tryClaim('s5');
    expect(await a.stillOwner('s5', epoch)).toBe(false); // b holds it now
    await b.close();
    expect(await a.stillOwner('s5', epoch)).toBe(false); // b held it since, even if it let it go
  });

  describe('the epoch recorded in the database (the fence of the writes in SQL)', () => {
    /** A node whose claims record their epoch in a map standing for the sessions table. */
    const recording = (nodeId: string, table: Map<string, number>, fail?: () => boolean) => {
      const fresh: Array<[string, number]> = [];
      const l = new SessionLeases({
        redis,
        keyPrefix: prefix,
        nodeId,
        leaseMs: 10_000,
        log,
        inUse: () => true,
        recordEpoch: async (id, epoch) => {
          if (fail?.()) throw new Error('database down');
          table.set(id, Math.max(table.get(id) ?? 0, epoch));
          return table.get(id);
        },
        onFresh: async (id, epoch) => {
          fresh.push([id, epoch]);
        },
      });
      made.push(l);
      return { l, fresh };
    };

    it('each new owner records its epoch before its claim is used; a renewal of the claim records nothing new', async () => {
      const table = new Map<string, number>();
      const a = recording('a', table);
      const b = recording('b', table);
      const first = await a.l.tryClaim('e1');
      expect(table.get('e1')).toBe(first.epoch);
      expect(a.fresh).toEqual([['e1', first.epoch]]);
      expect(await a.l.tryClaim('e1')).toEqual({ held: true, epoch: first.epoch, fresh: false });
      await redis.del(`${prefix}lease:e1`); // as if A's lease lapsed
      const second = await b.l.tryClaim('e1');
      expect(second.epoch).toBeGreaterThan(first.epoch);
      expect(table.get('e1')).toBe(second.epoch);
      expect(b.fresh).toEqual([['e1', second.epoch]]);
    });

    it('Redis that forgot its epoch counter: the claim moves past the epoch the database recorded', async () => {
      const table = new Map([['e2', 41]]);
      const a = recording('a', table);
      const claim = await a.l.tryClaim('e2'); // Redis hands out 1, the database has 41 from before
      expect(claim).toMatchObject({ held: true, fresh: true, epoch: 42 });
      expect(table.get('e2')).toBe(42);
      expect(a.fresh).toEqual([['e2', 42]]);
      expect(a.l.epochOf('e2')).toBe(42);
      expect(await a.l.ownerOf('e2')).toMatchObject({ node: 'a', epoch: 42 });
      expect(await a.l.stillOwner('e2', 42)).toBe(true);
      // The lease renews at its new epoch, and the next owner's epoch comes after it.
      expect(await a.l.tryClaim('e2')).toEqual({ held: true, epoch: 42, fresh: false });
      await a.l.close();
      const b = recording('b', table);
      expect((await b.l.tryClaim('e2')).epoch).toBe(43);
    });

    it('a claim whose epoch could not be recorded fails, and the next claim records it', async () => {
      const table = new Map<string, number>();
      let down = true;
      const a = recording('a', table, () => down);
      await expect(a.l.tryClaim('e3')).rejects.toThrow('database down');
      expect(a.l.epochOf('e3')).toBeUndefined();
      // Two claims at once: the one that joins the failing claim fails with it.
      const both = await Promise.allSettled([a.l.tryClaim('e4'), a.l.tryClaim('e4')]);
      expect(both.map((o) => o.status)).toEqual(['rejected', 'rejected']);
      expect(a.l.epochOf('e4')).toBeUndefined();
      expect(a.fresh).toEqual([]);
      down = false;
      const claim = await a.l.tryClaim('e3'); // its own lease, unknown here: recorded and recovered now
      expect(claim).toMatchObject({ held: true });
      expect(table.get('e3')).toBe(claim.epoch);
      expect(a.fresh).toEqual([['e3', claim.epoch]]);
    });
  });

  it('renews a lease in use, so it outlives its period', async () => {
    const a = leases('a', 400);
    await a.tryClaim('s4');
    await new Promise((r) => setTimeout(r, 1200)); // three lease periods: only renewals keep it
    expect(await a.ownerOf('s4')).toMatchObject({ node: 'a' });
    expect(a.count).toBe(1);
  });

  describe('a budget shared by two nodes', () => {
    let store: Store;
    const payer: Payer = { tenant: 'k_shared', keyId: 'key_shared', keyBudgetUsd: 1 };
    const facts = { sessionId: 's', sessionName: 's', turnId: 't' };
    beforeAll(async () => {
      store = await createStore('sqlite::memory:');
      await store.migrate();
    });
    afterAll(() => store.close());

    it('holds what one node reserved against the other, and frees it once settled', async () => {
      const holds = new SharedHolds(redis, `${prefix}b1:`, 60_000);
      const nodeA = new Budgets({}, store.spend, holds);
      const nodeB = new Budgets({}, store.spend, holds);
      const onA = await nodeA.reserve(payer, 0.75);
      const onB = await nodeB.reserve(payer, 0.75); // only 0.25 left: held
      expect(await holds.heldBy('key:key_shared')).toBeCloseTo(1, 9);
      const refused = await nodeB.reserve(payer, 0.1).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ProblemError);
      expect((refused as ProblemError).toProblem()).toMatchObject({
        type: '/problems/key-budget-exceeded',
        reserved_usd: 1,
      });
      expect((refused as ProblemError).retryAfterSeconds).toBe(5);
      await onA.settle(0.5, facts);
      await onB.settle(0, facts);
      expect(await holds.heldBy('key:key_shared')).toBe(0);
      const next = await nodeB.reserve(payer, undefined); // 0.5 spent: the rest
      expect(await holds.heldBy('key:key_shared')).toBeCloseTo(0.5, 9);
      next.release();
    });
  });
});
