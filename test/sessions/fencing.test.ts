// A chat turn's records fenced on the session's lease epoch in SQL, on one node whose fence the test plays: a takeover recorded mid-turn keeps its end out (its spend still goes into the ledger), a fenced start stops the turn, and no fence at all (a single node) conditions nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { tenantOf } from '../../src/security/api-keys.js';
import type { FencedWrite, SessionFence, SessionService } from '../../src/sessions/service.js';
import { useTestServer } from '../support/fixture.js';
import { KEYS } from '../support/server.js';

const f = useTestServer({ MAX_LIVE_SESSIONS: '2', MAX_CONCURRENT_TURNS: '2' });
const TENANT = tenantOf(KEYS[0]);
const service = (): SessionService => f.t.server.sessions;
const store = () => f.t.server.store;

/** A fence at `epoch` whose Redis answer is always "still the owner" (stale, as a paused node's would be). */
function staleFence(epoch: number): SessionFence {
  return { epochOf: () => epoch, stillOwner: async () => true };
}

describe('SessionService: writes fenced on the lease epoch', () => {
  const fenced: FencedWrite[] = [];
  afterEach(() => {
    service().fence = undefined;
    service().onFenced = undefined;
    fenced.length = 0;
  });
  const listen = () => (service().onFenced = (write) => fenced.push(write));

  it("a takeover recorded while the turn runs keeps the turn's end out; its cost still goes into the ledger once", async () => {
    const row = await service().create(TENANT, { name: 'taken-over' });
    await store().fenced.raiseEpoch(row.id, 1);
    service().fence = staleFence(1);
    listen();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    f.model.script({ match: 'answer after the takeover', steps: [{ after: gate, text: 'too late' }] });
    const { turn, recorded } = await service().chat(TENANT, 'taken-over', { message: 'answer after the takeover' });
    await f.model.waitFor((r) => r.kind === 'main' && r.prompt === 'answer after the takeover');
    expect(await store().fenced.raiseEpoch(row.id, 2)).toBe(2); // another node claims the session
    release();
    const result = await turn.done;
    await recorded;
    expect(result.cost_usd).toBeGreaterThan(0);
    const history = (await service().history(TENANT, 'taken-over', 0, 10)).items;
    expect(history.map((m) => [m.role, m.content])).toEqual([['user', 'answer after the takeover']]);
    expect(await store().sessions.findById(row.id)).toMatchObject({ turns: 0, cost_usd: 0, lease_epoch: 2 });
    expect(fenced).toEqual(['turn_end']);
    const spent = (await store().spend.listByTenant(TENANT)).filter((s) => s.turn_id === turn.id);
    expect(spent).toHaveLength(1);
    expect(spent[0]!.cost_usd).toBeCloseTo(result.cost_usd, 10);
    await service().remove(TENANT, 'taken-over', true);
  });

  it('a turn whose question is fenced out at its start is stopped, and writes nothing', async () => {
    const row = await service().create(TENANT, { name: 'late-start' });
    await store().fenced.raiseEpoch(row.id, 5); // a newer owner before this node's turn even started
    service().fence = staleFence(4);
    listen();
    f.model.script({ match: 'never recorded', steps: [{ hang: true }] });
    const { turn, recorded } = await service().chat(TENANT, 'late-start', { message: 'never recorded' });
    await expect(turn.done).rejects.toMatchObject({ kind: expect.any(String) });
    await recorded.catch(() => undefined);
    expect((await service().history(TENANT, 'late-start', 0, 10)).total).toBe(0);
    expect(await store().sessions.findById(row.id)).toMatchObject({ turns: 0 });
    expect(fenced).toEqual(['turn_start']); // its end is not tried again
    expect(service().liveness(row.id).live).toBe(false);
    await service().remove(TENANT, 'late-start', true);
  });

  it('a turn on a node that holds no lease of the session (it was just lost) is fenced out like a stale one', async () => {
    const row = await service().create(TENANT, { name: 'no-lease' });
    await store().fenced.raiseEpoch(row.id, 3);
    service().fence = { epochOf: () => undefined, stillOwner: async () => true };
    listen();
    f.model.script({ match: 'without a lease', steps: [{ hang: true }] });
    const { turn, recorded } = await service().chat(TENANT, 'no-lease', { message: 'without a lease' });
    await expect(turn.done).rejects.toMatchObject({ kind: expect.any(String) });
    await recorded.catch(() => undefined);
    expect((await service().history(TENANT, 'no-lease', 0, 10)).total).toBe(0);
    expect(fenced).toEqual(['turn_start']);
    await service().remove(TENANT, 'no-lease', true);
  });

  it('a takeover that a newer owner already passed records no interrupted turn', async () => {
    const row = await service().create(TENANT, { name: 'passed-by' });
    listen();
    await store().messages.insert({ session_id: row.id, turn_id: 'dead-turn', role: 'user', content: 'asked' });
    await store().fenced.raiseEpoch(row.id, 8);
    await service().recoverMoved(row.id, 40, 7);
    expect((await service().history(TENANT, 'passed-by', 0, 10)).items.map((m) => m.role)).toEqual(['user']);
    expect((await store().sessions.findById(row.id))?.last_event_id).toBe(0);
    expect(fenced).toEqual(['takeover']);
    await service().recoverMoved(row.id, 40, 8);
    expect((await service().history(TENANT, 'passed-by', 0, 10)).items.map((m) => m.status)).toEqual([
      'ok',
      'interrupted',
    ]);
    expect((await store().sessions.findById(row.id))?.last_event_id).toBe(40);
    await service().remove(TENANT, 'passed-by', true);
  });

  it('a single node (no fence) conditions nothing, whatever epoch a former cluster left on the row', async () => {
    const row = await service().create(TENANT, { name: 'single' });
    await store().fenced.raiseEpoch(row.id, 9);
    const { recorded } = await service().chat(TENANT, 'single', { message: 'on one node' });
    await recorded;
    expect((await service().history(TENANT, 'single', 0, 10)).items.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(await store().sessions.findById(row.id)).toMatchObject({ turns: 1 });
    await service().remove(TENANT, 'single', true);
  });
});
