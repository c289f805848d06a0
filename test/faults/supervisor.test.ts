// The process supervisor: a turn whose model stops streaming is stopped as `stalled`, its process ends, and the next turn resumes.
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/fixture.js';
import { promptTexts } from '../support/model-server.js';
import { waitForNoOwnedProcesses } from '../support/processes.js';

const f = useTestServer({ TURN_STALL_SECONDS: '3', CLAUDE_TIMEOUT_SECONDS: '120' });

describe('stall watchdog', () => {
  it('a model that stops streaming mid-turn ends the turn as stalled; its process goes; the next turn resumes', async () => {
    const { t, model } = f;
    expect((await t.request('/api/v1/sessions', { method: 'POST', json: { name: 'st' } })).status).toBe(201);
    const before = await t.request('/api/v1/sessions/st/chat', {
      method: 'POST',
      json: { message: 'before the stall' },
    });
    expect(before.status).toBe(200);
    model.script({ match: 'stall-here', steps: [{ stall: 'I will now go quiet' }] });

    const started = Date.now();
    const res = await t.request('/api/v1/sessions/st/chat', { method: 'POST', json: { message: 'stall-here' } });
    expect(res.status).toBe(504);
    const problem = await res.json();
    expect(problem).toMatchObject({ type: '/problems/stalled', status: 504, title: 'Claude Code stalled' });
    expect(problem.detail).toContain('TURN_STALL_SECONDS');
    // Stopped by the watchdog, long before the turn's own time limit.
    expect(Date.now() - started).toBeLessThan(60_000);
    await waitForNoOwnedProcesses(t.dirs.data, 30_000);

    const after = await t.request('/api/v1/sessions/st/chat', { method: 'POST', json: { message: 'after the stall' } });
    expect(after.status).toBe(200);
    expect(promptTexts(model.mainRequests().at(-1)!)).toContain('before the stall');
    const history = (await (await t.request('/api/v1/sessions/st/history?limit=100')).json()).data;
    expect(
      history.filter((r: { role: string; status: string }) => r.role === 'assistant' && r.status === 'error'),
    ).toHaveLength(1);
  });
});
