// Tool outputs kept in tools_used through the real CLI: the sync chat result, the history rows, a job's result and its webhook carry each call's output and error flag; an over-long output is cut and flagged.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOOL_OUTPUT_KEPT_CHARS } from '../../src/engine/events.js';
import { generateWebhookSecret } from '../../src/jobs/secret.js';
import { apiClient } from '../support/api/client.js';
import { useModelServer } from '../support/fixture.js';
import { needs } from '../support/needs.js';
import type { TestServer } from '../support/server.js';
import { createSession } from '../support/sessions.js';
import { WebhookReceiver } from '../jobs/webhook-receiver.js';

const noBubblewrap = await needs('the Bash tool-output tests (Bash runs in the sandbox)', 'bubblewrap');
const fixture = useModelServer();
const secret = generateWebhookSecret();
let t: TestServer;
let hooks: WebhookReceiver;

beforeAll(async () => {
  hooks = await WebhookReceiver.start(secret);
  t = await fixture.server({
    WEBHOOK_SECRET: secret,
    WEBHOOK_URL: `${hooks.url}/all-jobs`,
    WEBHOOK_ALLOW_PRIVATE: 'true',
  });
});
afterAll(async () => {
  await hooks.close();
});

const api = () => apiClient(t);

async function chat(name: string, message: string) {
  const { response, data, error } = await api().POST('/api/v1/sessions/{name}/chat', {
    params: { path: { name } },
    body: { message },
  });
  expect(response.status, JSON.stringify(error)).toBe(200);
  const answer = data!.data;
  if (!('content' in answer)) throw new Error('the chat answered with something other than a result');
  return answer;
}

async function lastAssistantRow(name: string) {
  const { response, data } = await api().GET('/api/v1/sessions/{name}/history', { params: { path: { name } } });
  expect(response.status).toBe(200);
  return data!.data.filter((m) => m.role === 'assistant').at(-1)!;
}

describe('tool outputs in tools_used', () => {
  it('a Read that works and one that fails: the chat result and the history row carry both outputs', async () => {
    const s = await createSession(t, 'reads');
    writeFileSync(join(s.workspace, 'notes.txt'), 'colour: teal-17\n');
    fixture.model.script({
      match: 'read-two-files',
      steps: [
        { tool: { name: 'Read', input: { file_path: '{{cwd}}/notes.txt' } } },
        { tool: { name: 'Read', input: { file_path: '{{cwd}}/missing.txt' } } },
        { text: 'Read them.' },
      ],
    });
    const result = await chat('reads', 'read-two-files please');
    const expected = [
      {
        name: 'Read',
        input: expect.objectContaining({ file_path: expect.stringMatching(/notes\.txt$/) }),
        output: expect.stringContaining('colour: teal-17'),
        is_error: false,
      },
      {
        name: 'Read',
        input: expect.objectContaining({ file_path: expect.stringMatching(/missing\.txt$/) }),
        output: expect.stringMatching(/does not exist/i),
        is_error: true,
      },
    ];
    expect(result.tools_used).toEqual(expected);
    const row = await lastAssistantRow('reads');
    expect(row.turn_id).toBe(result.turn_id);
    expect(row.tools_used).toEqual(expected);
  });

  it.skipIf(noBubblewrap)(
    "a Bash call's output is kept whole; an over-long one is cut at the bound and flagged truncated",
    async () => {
      await createSession(t, 'bash-outputs');
      const long = TOOL_OUTPUT_KEPT_CHARS + 3_616; // 20,000: past the bound, short of the CLI's own cut of Bash output
      fixture.model.script({
        match: 'run-two-commands',
        steps: [
          { tool: { name: 'Bash', input: { command: 'echo out-marker-$((6*7))', description: 'a marker' } } },
          { tool: { name: 'Bash', input: { command: `printf '%${long}s' '' | tr ' ' x`, description: 'many x' } } },
          { text: 'Ran both.' },
        ],
      });
      const result = await chat('bash-outputs', 'run-two-commands now');
      const [marker, flood] = result.tools_used;
      expect(marker).toMatchObject({ name: 'Bash', is_error: false, output: expect.stringContaining('out-marker-42') });
      expect(marker!.truncated).toBeUndefined();
      expect(flood).toMatchObject({ name: 'Bash', is_error: false, truncated: true });
      expect(flood!.output).toBe('x'.repeat(TOOL_OUTPUT_KEPT_CHARS));
      // The model got the whole output: the bound is on what the result and history keep.
      const followUp = fixture.model
        .mainRequests()
        .filter((r) => r.prompt?.includes('run-two-commands') && r.step === 2)
        .at(-1);
      expect(JSON.stringify(followUp?.body.messages.at(-1))).toContain('x'.repeat(long));

      const row = await lastAssistantRow('bash-outputs');
      expect(row.tools_used).toEqual(result.tools_used);
    },
  );

  it("a job's result and its job.succeeded webhook carry the outputs", async () => {
    const s = await createSession(t, 'job-outputs');
    writeFileSync(join(s.workspace, 'job.txt'), 'job-said-hello\n');
    fixture.model.script({
      match: 'job-reads-a-file',
      steps: [{ tool: { name: 'Read', input: { file_path: '{{cwd}}/job.txt' } } }, { text: 'Job read it.' }],
    });
    const res = await t.request('/api/v1/sessions/job-outputs/jobs', {
      method: 'POST',
      json: { message: 'job-reads-a-file now' },
    });
    expect(res.status).toBe(202);
    const id = (await res.json()).data.id as string;
    const [hook] = await hooks.waitFor(
      1,
      (r) => r.verified?.type === 'job.succeeded' && r.verified.data.id === id,
      60_000,
    );
    const output = { name: 'Read', output: expect.stringContaining('job-said-hello'), is_error: false };
    expect(hook!.verified.data.result.tools_used).toEqual([expect.objectContaining(output)]);
    const job = (await (await t.request(`/api/v1/sessions/job-outputs/jobs/${id}`)).json()).data;
    expect(job.result.tools_used).toEqual([expect.objectContaining(output)]);
  });
});
