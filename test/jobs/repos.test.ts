// The jobs, webhook_deliveries and idempotency_keys repositories, on SQLite and on PostgreSQL (fails loudly in CI when it is missing).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeOrderedId } from '../../src/jobs/ids.js';
import { createStore, MissingReferenceError, type Store } from '../../src/store/index.js';
import { needs } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';

const pgMissing = await needs('the PostgreSQL half of the jobs repository tests', 'postgresql');

const iso = (offsetMs = 0) => new Date(Date.now() + offsetMs).toISOString();

function suite(label: string, open: () => Promise<{ url: string; drop(): Promise<void> }>) {
  describe(`jobs repositories on ${label}`, () => {
    let db: { url: string; drop(): Promise<void> };
    let store: Store;

    beforeAll(async () => {
      db = await open();
      store = await createStore(db.url);
      await store.migrate();
    });

    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    async function session() {
      const id = randomUUID();
      await store.sessions.create({
        id,
        owner: 'o',
        name: `s-${id}`,
        workspace: '/w',
        working_dir: '/w',
        status: 'pending',
      });
      return id;
    }

    const newJob = (sessionId: string, message = 'm', keyId: string | null = null) =>
      store.jobs.create({
        id: timeOrderedId(),
        owner: 'o',
        key_id: keyId,
        session_id: sessionId,
        session_name: 'demo',
        message,
        options: { model: 'x' },
        metadata: { a: [1] },
      });

    it('creates queued jobs with parsed JSON columns and refuses a missing session', async () => {
      const sid = await session();
      const job = await newJob(sid);
      expect(job).toMatchObject({
        status: 'queued',
        options: { model: 'x' },
        metadata: { a: [1] },
        result: null,
        error: null,
        events: null,
        attempts: 0,
        restarts: 0,
      });
      expect(await store.jobs.findById(job.id)).toEqual(job);
      await expect(newJob(randomUUID())).rejects.toBeInstanceOf(MissingReferenceError);
    });

    it('lists newest first with a status filter, and finds runnable jobs oldest first', async () => {
      const sid = await session();
      await newJob(sid, 'a');
      const b = await newJob(sid, 'b');
      const c = await newJob(sid, 'c');
      const bAfter = iso(60_000);
      await store.jobs.delay(b.id, bAfter);
      await store.jobs.markRunning(c.id, 'turn-c');
      const page = await store.jobs.listBySession(sid, undefined, { offset: 0, limit: 2 });
      expect(page.total).toBe(3);
      expect(page.items.map((j) => j.message)).toEqual(['c', 'b']);
      expect(
        (await store.jobs.listBySession(sid, ['queued'], { offset: 0, limit: 10 })).items.map((j) => j.message),
      ).toEqual(['b', 'a']);
      const runnable = (await store.jobs.runnable(100)).filter((j) => j.session_id === sid);
      expect(runnable.map((j) => j.message)).toEqual(['a']);
      // The earliest wait of every queued job in this store: b's, or one of an earlier test's that ends sooner.
      const next = await store.jobs.nextRunAfter();
      expect(next).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(Date.parse(next!)).toBeGreaterThan(Date.now());
      expect(Date.parse(next!)).toBeLessThanOrEqual(Date.parse(bAfter));
    });

    it("offers each session's oldest queued job only: a delayed head is never overtaken, busy sessions are left out", async () => {
      const busy = await session();
      const delayed = await session();
      const free = await session();
      for (let i = 0; i < 5; i++) await newJob(busy, `busy-${i}`);
      const head = await newJob(delayed, 'delayed-head');
      await newJob(delayed, 'delayed-second');
      await store.jobs.delay(head.id, iso(60_000));
      await newJob(free, 'free-1');
      await newJob(free, 'free-2');
      const ids: string[] = [busy, delayed, free];
      const mine = (rows: { session_id: string; message: string }[]) =>
        rows.filter((j) => ids.includes(j.session_id)).map((j) => j.message);
      expect(mine(await store.jobs.runnable(1000))).toEqual(['busy-0', 'free-1']);
      expect(mine(await store.jobs.runnable(1000, [busy]))).toEqual(['free-1']);
    });

    it('leaves out the jobs of keys at their share (a job without a key counts as its owner tenant)', async () => {
      const [a1, a2, b1, t1] = [await session(), await session(), await session(), await session()];
      await newJob(a1, 'a-1', 'key_a');
      await newJob(a2, 'a-2', 'key_a');
      await newJob(b1, 'b-1', 'key_b');
      await newJob(t1, 'tenant-1');
      const ids: string[] = [a1, a2, b1, t1];
      const mine = (rows: { session_id: string; message: string }[]) =>
        rows.filter((j) => ids.includes(j.session_id)).map((j) => j.message);
      expect(mine(await store.jobs.runnable(1000))).toEqual(['a-1', 'a-2', 'b-1', 'tenant-1']);
      expect(mine(await store.jobs.runnable(1000, [], undefined, ['key_a']))).toEqual(['b-1', 'tenant-1']);
      expect(mine(await store.jobs.runnable(1000, [], undefined, ['key_a', 'o']))).toEqual(['b-1']);
      expect((await store.jobs.findById((await newJob(b1, 'b-2', 'key_b')).id))?.key_id).toBe('key_b');
    });

    it('moves queued → running → ended only from the expected states', async () => {
      const sid = await session();
      const job = await newJob(sid);
      const running = await store.jobs.markRunning(job.id, 'turn-1');
      expect(running).toMatchObject({ status: 'running', turn_id: 'turn-1', attempts: 1 });
      expect(running!.started_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/));
      expect(await store.jobs.markRunning(job.id, 'turn-2')).toBeUndefined();
      expect(await store.jobs.finish(job.id, { status: 'cancelled' }, ['queued'])).toBeUndefined();
      const done = await store.jobs.finish(job.id, {
        status: 'succeeded',
        result: { content: 'ok' },
        events: [{ id: 1, event: { type: 'text', text: 'ok' } }],
      });
      expect(done).toMatchObject({ status: 'succeeded', result: { content: 'ok' }, events: [{ id: 1 }] });
      expect(done!.finished_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/));
      expect(await store.jobs.finish(job.id, { status: 'failed' })).toBeUndefined();
    });

    it('re-queues jobs left running, counting restarts', async () => {
      const sid = await session();
      const job = await newJob(sid);
      await store.jobs.markRunning(job.id, 't');
      expect((await store.jobs.running()).map((j) => j.id)).toContain(job.id);
      expect(await store.jobs.requeueAfterRestart(job.id)).toMatchObject({
        status: 'queued',
        restarts: 1,
        attempts: 1,
      });
      expect(await store.jobs.requeueAfterRestart(job.id)).toBeUndefined();
    });

    it("deletes a session's jobs with it, but keeps their webhook deliveries", async () => {
      const sid = await session();
      const job = await newJob(sid);
      await store.deliveries.insert({
        id: `msg_${timeOrderedId()}`,
        job_id: job.id,
        owner: 'o',
        event: 'job.started',
        url: 'https://x.example/',
        payload: '{}',
      });
      await store.sessions.delete(sid);
      expect(await store.jobs.findById(job.id)).toBeUndefined();
      expect(await store.deliveries.listByJobs([job.id])).toHaveLength(1);
    });

    it('keeps deliveries: due ones soonest first, attempts appended to the log', async () => {
      const jobId = randomUUID();
      const soon = await store.deliveries.insert({
        id: `msg_${timeOrderedId()}`,
        job_id: jobId,
        owner: 'o',
        event: 'job.started',
        url: 'https://a.example/',
        payload: '{"a":1}',
        next_attempt_at: iso(-2000),
      });
      const sooner = await store.deliveries.insert({
        id: `msg_${timeOrderedId()}`,
        job_id: jobId,
        owner: 'o',
        event: 'job.succeeded',
        url: 'https://a.example/',
        payload: '{}',
        next_attempt_at: iso(-5000),
      });
      await store.deliveries.insert({
        id: `msg_${timeOrderedId()}`,
        job_id: jobId,
        owner: 'o',
        event: 'job.failed',
        url: 'https://a.example/',
        payload: '{}',
        next_attempt_at: iso(60_000),
      });
      const due = (await store.deliveries.due(100)).filter((d) => d.job_id === jobId);
      expect(due.map((d) => d.id)).toEqual([sooner.id, soon.id]);
      expect((await store.deliveries.due(100, [sooner.id])).filter((d) => d.job_id === jobId).map((d) => d.id)).toEqual(
        [soon.id],
      );
      // The earliest pending delivery: `sooner`'s, or one of an earlier test's that is due even sooner.
      const nextDue = await store.deliveries.nextDueAt();
      expect(nextDue).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(Date.parse(nextDue!)).toBeLessThanOrEqual(Date.parse(sooner.next_attempt_at!));

      const entry = { attempt: 1, at: iso(), status_code: 500, error: 'receiver answered 500', duration_ms: 3 };
      const retried = await store.deliveries.recordAttempt(soon.id, {
        status: 'pending',
        attempts: 1,
        nextAttemptAt: iso(1000),
        entry,
      });
      expect(retried).toMatchObject({ status: 'pending', attempts: 1, log: [entry] });
      const ok = { ...entry, attempt: 2, status_code: 204, error: null };
      const delivered = await store.deliveries.recordAttempt(soon.id, {
        status: 'delivered',
        attempts: 2,
        nextAttemptAt: null,
        entry: ok,
      });
      expect(delivered).toMatchObject({ status: 'delivered', attempts: 2, next_attempt_at: null, log: [entry, ok] });
      expect(
        await store.deliveries.recordAttempt(soon.id, { status: 'failed', attempts: 3, nextAttemptAt: null, entry }),
      ).toBeUndefined();
      expect((await store.deliveries.listByJobs([jobId])).map((d) => d.event)).toEqual([
        'job.started',
        'job.succeeded',
        'job.failed',
      ]);
    });

    it('remembers idempotency keys: one claim per key and tenant, completion, lazy expiry, abandoned claims', async () => {
      const tenant = `t-${randomUUID()}`;
      const claim = (key: string, lockMs = 60_000, ttlMs = 60_000) =>
        store.idempotency.claim({ tenant, key, fingerprint: 'f1', lockedUntil: iso(lockMs), expiresAt: iso(ttlMs) });
      expect(await claim('k1')).toBe(true);
      expect(await claim('k1')).toBe(false);
      expect(
        await store.idempotency.claim({
          tenant: `${tenant}-other`,
          key: 'k1',
          fingerprint: 'f',
          lockedUntil: iso(1000),
          expiresAt: iso(1000),
        }),
      ).toBe(true);
      expect(await store.idempotency.find(tenant, 'k1')).toMatchObject({
        status: 'in_flight',
        fingerprint: 'f1',
        response_status: null,
      });

      await store.idempotency.complete(tenant, 'k1', { status: 201, headers: { location: '/x' }, body: '{"data":1}' });
      expect(await store.idempotency.find(tenant, 'k1')).toMatchObject({
        status: 'completed',
        response_status: 201,
        response_headers: { location: '/x' },
        response_body: '{"data":1}',
        locked_until: null,
      });
      await store.idempotency.release(tenant, 'k1'); // only in-flight claims are released
      expect(await store.idempotency.find(tenant, 'k1')).toMatchObject({ status: 'completed', response_status: 201 });

      expect(await claim('expired', 60_000, -1)).toBe(true);
      expect(await store.idempotency.find(tenant, 'expired')).toBeUndefined();
      expect(await claim('expired')).toBe(true); // the expired row was deleted on the way

      expect(await claim('stale', -1)).toBe(true);
      expect(await store.idempotency.dropAbandoned(tenant, 'stale')).toBe(true);
      expect(await claim('fresh')).toBe(true);
      expect(await store.idempotency.dropAbandoned(tenant, 'fresh')).toBe(false);
      await store.idempotency.extendLock(tenant, 'fresh', iso(-1));
      expect(await store.idempotency.dropAbandoned(tenant, 'fresh')).toBe(true);

      expect(await claim('old', 60_000, -1)).toBe(true);
      expect(await store.idempotency.deleteExpired()).toBeGreaterThanOrEqual(1);
    });
  });
}

suite('SQLite', async () => ({ url: 'sqlite::memory:', drop: async () => {} }));

describe.skipIf(pgMissing)('PostgreSQL', () => {
  suite('PostgreSQL', async () => createTempDatabase('cca_jobs_test'));
});
