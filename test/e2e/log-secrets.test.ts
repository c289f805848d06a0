// No secret in any log line: a full run of the server process (start, keys, chat, a job with webhooks, stop) at the most verbose level, every line scanned for every configured or generated secret.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../src/jobs/secret.js';
import { WebhookReceiver } from '../jobs/webhook-receiver.js';
import { useProcessFixture } from '../support/process-fixture.js';
import { apiOf, startServerProcess } from '../support/server-process.js';

const token = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

const f = useProcessFixture('cc-api-logscan-');
let hook: WebhookReceiver;
let operatorHook: WebhookReceiver;

beforeAll(async () => {
  hook = await WebhookReceiver.start();
  operatorHook = await WebhookReceiver.start();
});

afterAll(async () => {
  await hook?.close();
  await operatorHook?.close();
});

/** Runs the whole flow on a server started with `env`; returns its output and the secrets it had or made. */
async function fullRun(name: string, env: Record<string, string>): Promise<{ output: string; secrets: string[] }> {
  const data = join(f.dir, name, 'data');
  const userKey = token('log-scan-user-key');
  const adminKey = token('log-scan-admin-key');
  const anthropicKey = token('sk-ant-log-scan');
  const operatorUrl = `${operatorHook.url}/operator?token=${token('webhook-url-token')}`;
  const server = await startServerProcess(join(f.dir), {
    ...f.cli.env,
    ANTHROPIC_API_KEY: anthropicKey,
    CLAUDE_CONFIG_DIR: f.cli.configDir,
    LOG_LEVEL: 'trace',
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: data,
    APPROVED_DIRECTORY: join(f.dir, name, 'ws'),
    API_KEYS: userKey,
    ADMIN_API_KEYS: adminKey,
    WEBHOOK_URL: operatorUrl,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    ...env,
  });
  const created: string[] = [];
  let webhookSecret = env.WEBHOOK_SECRET;
  try {
    webhookSecret ??= readFileSync(join(data, 'webhook-secret'), 'utf8').trim();
    hook.secret = webhookSecret;
    const admin = apiOf(server.url, adminKey);
    const key = await admin('/api/v1/keys', { method: 'POST', json: { name: 'made during the run' } });
    expect(key.status).toBe(201);
    const madeKey: string = (await key.json()).data.secret;
    created.push(madeKey);

    for (const k of [userKey, madeKey]) {
      const api = apiOf(server.url, k);
      expect((await api('/api/v1/sessions', { method: 'POST', json: { name: 'scan' } })).status).toBe(201);
      const chat = await api('/api/v1/sessions/scan/chat', { method: 'POST', json: { message: 'hello scan' } });
      expect(chat.status).toBe(200);
      expect((await chat.json()).data.content).toBe('echo: hello scan');
    }
    // A wrong key and a key in the query string: both refused, neither logged.
    const guess = token('cca_guessed');
    expect((await apiOf(server.url, guess)('/api/v1/sessions')).status).toBe(401);
    expect((await fetch(`${server.url}/api/v1/sessions?api_key=${guess}`)).status).toBe(401);
    created.push(guess);

    const api = apiOf(server.url, userKey);
    const job = await api('/api/v1/sessions/scan/jobs', {
      method: 'POST',
      json: { message: 'a job to sign', webhook_url: `${hook.url}/job` },
    });
    expect(job.status).toBe(202);
    const jobId: string = (await job.json()).data.id;
    const succeeded = (r: { body: string }) => {
      const payload = JSON.parse(r.body) as { type: string; data: { id: string } };
      return payload.type === 'job.succeeded' && payload.data.id === jobId;
    };
    const [delivered] = await hook.waitFor(1, succeeded);
    expect(delivered!.verified).toMatchObject({ type: 'job.succeeded', data: { id: jobId } });
    await operatorHook.waitFor(1, (r) => r.path.startsWith('/operator?token=') && succeeded(r));
  } finally {
    server.child.kill('SIGTERM');
  }
  expect(await server.exited).toBe(0);
  return {
    output: server.output(),
    secrets: [userKey, adminKey, anthropicKey, operatorUrl, webhookSecret, ...created].filter((s) => s !== undefined),
  };
}

/** Every secret, and its base64 body alone for whsec_ ones (the part that signs). */
function needles(secrets: string[]): string[] {
  return secrets.flatMap((s) => (s.startsWith('whsec_') ? [s, s.slice('whsec_'.length)] : [s]));
}

describe('the logs of a full run', () => {
  it.each([
    ['a generated webhook secret', {}],
    ['a configured webhook secret', { WEBHOOK_SECRET: generateWebhookSecret() }],
  ])(
    'hold no secret, with %s',
    async (name, env: Record<string, string>) => {
      const { output, secrets } = await fullRun(name.replace(/\W+/g, '-'), env);
      const lines = output.split('\n').filter((l) => l.trim() !== '');
      // The run was logged (requests, the start and the stop), so the scan looked at something.
      expect(lines.length).toBeGreaterThan(10);
      expect(output).toContain('listening on');
      if (env.WEBHOOK_SECRET === undefined) expect(output).toMatch(/webhook-secret \(sha256:[0-9a-f]{16}\)/);
      for (const secret of needles(secrets)) {
        const leaks = lines.filter((l) => l.includes(secret));
        expect(leaks, `a log line holds ${secret.slice(0, 12)}…`).toEqual([]);
      }
    },
    180_000,
  );
});
