// The limits of a wall: a file past WALL_MAX_FILE_MB cannot be written, and a wall past WALL_MEMORY_MB is ended with a turn that says why.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestServer, type ServerFixture } from '../support/fixture.js';
import { needs } from '../support/needs.js';

const skip = await needs('the wall limit tests', 'wall');

async function bashTurn(f: ServerFixture, name: string, command: string): Promise<Response> {
  expect((await f.t.request('/api/v1/sessions', { method: 'POST', json: { name } })).status).toBe(201);
  f.model.script({
    match: `limit-${name}`,
    steps: [{ tool: { name: 'Bash', input: { command, description: 'limit' } } }, { text: `done ${name}` }],
  });
  return f.t.request(`/api/v1/sessions/${name}/chat`, { method: 'POST', json: { message: `limit-${name}` } });
}

describe.skipIf(skip !== undefined)('WALL_MAX_FILE_MB', () => {
  const f = useTestServer({ WALL_MAX_FILE_MB: '1' });

  it('stops a write at the limit, and health reports the limits', async () => {
    const health = (await (await f.t.request('/api/v1/health')).json()).data;
    expect(health.wall.limits).toMatchObject({ max_file_mb: 1, memory_mb: 2048, max_processes: 4096 });
    const res = await bashTurn(f, 'big-file', 'head -c 3000000 /dev/zero > big.bin; echo rc=$?');
    expect(res.status).toBe(200);
    const session = (await (await f.t.request('/api/v1/sessions/big-file')).json()).data;
    expect(statSync(join(session.working_dir, 'big.bin')).size).toBe(1024 * 1024);
    const seen = JSON.stringify(f.model.mainRequests().at(-1)!.body.messages.at(-1));
    expect(seen).toMatch(/rc=(153|1)|File size limit exceeded/);
  });
});

describe.skipIf(skip !== undefined)('WALL_MEMORY_MB', () => {
  // Below what the CLI itself needs (~200 MiB resident): the wall is ended during its first turn, which a Bash
  // command holding for a minute keeps open past the watchdog's next look (every 2 s).
  const f = useTestServer({ WALL_MEMORY_MB: '64' });

  it('ends a wall past its memory limit; the turn fails saying why', async () => {
    const res = await bashTurn(f, 'greedy', 'timeout 60 tail -f /dev/null; echo never');
    const problem = await res.json();
    expect(res.status, JSON.stringify(problem)).toBe(502);
    expect(problem.type).toBe('/problems/process-failed');
    expect(problem.detail).toContain('WALL_MEMORY_MB');
  });
});
