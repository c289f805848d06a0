// Small pieces of the jobs layer: time-ordered ids, retry backoff with jitter, the webhook secret file.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, isWebhookSecret, loadConfig } from '../../src/config/index.js';
import { retryDelayMs } from '../../src/jobs/backoff.js';
import { timeOrderedId } from '../../src/jobs/ids.js';
import { generateWebhookSecret, loadWebhookSecret, SECRET_FILE, secretFingerprint } from '../../src/jobs/secret.js';

describe('timeOrderedId', () => {
  it('is a UUIDv7 and sorts in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => timeOrderedId(1_700_000_000_000));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    const later = timeOrderedId(Date.now());
    expect(later > ids.at(-1)!).toBe(true);
  });
});

describe('retryDelayMs', () => {
  const settings = { baseMs: 1000, maxMs: 60_000 };

  it('doubles per attempt, with up to half taken off at random', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, settings, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, settings, () => 0))).toEqual([500, 1000, 2000, 4000]);
    for (let i = 0; i < 100; i++) {
      const d = retryDelayMs(3, settings);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  it('is capped at the maximum', () => {
    expect(retryDelayMs(20, settings, () => 1)).toBe(60_000);
    expect(retryDelayMs(20, settings, () => 0)).toBe(30_000);
  });
});

describe('webhook secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cca-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function capture() {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    return { log, lines };
  }

  it('generates whsec_ secrets that standardwebhooks accepts', () => {
    const secret = generateWebhookSecret();
    expect(isWebhookSecret(secret)).toBe(true);
    const wh = new Webhook(secret);
    const at = new Date();
    const signature = wh.sign('msg_1', at, '{"a":1}');
    expect(
      wh.verify('{"a":1}', {
        'webhook-id': 'msg_1',
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signature,
      }),
    ).toEqual({ a: 1 });
  });

  it('validates the format', () => {
    expect(isWebhookSecret('whsec_' + Buffer.alloc(24, 1).toString('base64'))).toBe(true);
    expect(isWebhookSecret('whsec_' + Buffer.alloc(16, 1).toString('base64'))).toBe(false);
    expect(isWebhookSecret('whsec_' + Buffer.alloc(65, 1).toString('base64'))).toBe(false);
    expect(isWebhookSecret(Buffer.alloc(32, 1).toString('base64'))).toBe(false);
    expect(isWebhookSecret('whsec_not base64!')).toBe(false);
  });

  it('uses WEBHOOK_SECRET when set, without touching DATA_DIR', async () => {
    const { log, lines } = capture();
    const configured = generateWebhookSecret();
    expect(await loadWebhookSecret(configured, join(dir, 'unused'), log)).toBe(configured);
    expect(lines).toEqual([]);
  });

  it('generates and saves (0600) a secret, logs where it is and its fingerprint (never the secret) once; later starts read it silently', async () => {
    const first = capture();
    const secret = await loadWebhookSecret(undefined, dir, first.log);
    expect(isWebhookSecret(secret)).toBe(true);
    expect(first.lines).toHaveLength(1);
    const file = join(dir, SECRET_FILE);
    expect(first.lines[0]).not.toContain(secret);
    expect(first.lines[0]).not.toContain(secret.slice('whsec_'.length, 'whsec_'.length + 12));
    expect(first.lines[0]).toContain(file);
    expect(first.lines[0]).toContain(secretFingerprint(secret));
    expect(readFileSync(file, 'utf8').trim()).toBe(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const second = capture();
    expect(await loadWebhookSecret(undefined, dir, second.log)).toBe(secret);
    expect(second.lines).toEqual([]);
  });

  it('refuses a damaged secret file with a clear message', async () => {
    const broken = mkdtempSync(join(dir, 'broken-'));
    writeFileSync(join(broken, SECRET_FILE), 'not a secret\n');
    await expect(loadWebhookSecret(undefined, broken, capture().log)).rejects.toThrow(/does not hold a webhook secret/);
  });
});

describe('job and webhook settings', () => {
  const base = { DATA_DIR: '/tmp/cca-settings', APPROVED_DIRECTORY: '/tmp/cca-settings/ws' };

  it('refuse NODE_ROLE api or worker without REDIS_URL (their jobs would never run), and take them with it', () => {
    for (const role of ['api', 'worker'] as const) {
      expect(() => loadConfig({ ...base, NODE_ROLE: role })).toThrow(
        `Invalid environment variable NODE_ROLE: \`${role}\` needs REDIS_URL`,
      );
      expect(loadConfig({ ...base, NODE_ROLE: role, REDIS_URL: 'redis://127.0.0.1:6379' }).node.role).toBe(role);
    }
    expect(loadConfig(base).node.role).toBe('all');
    expect(() => loadConfig({ ...base, JOB_LOCK_SECONDS: '0' })).toThrow('JOB_LOCK_SECONDS');
  });

  it('have their defaults', () => {
    const c = loadConfig({ ...base, MAX_CONCURRENT_TURNS: '3' });
    expect(c.jobs).toEqual({ concurrency: 3, retryOnRestart: true, lockMs: 30_000 });
    expect(c.webhooks).toEqual({
      url: undefined,
      secret: undefined,
      maxAttempts: 6,
      timeoutMs: 10_000,
      retryBaseMs: 10_000,
      retryMaxMs: 3_600_000,
      allowPrivate: false,
    });
    expect(c.idempotencyTtlMs).toBe(86_400_000);
  });

  it('are read from the environment', () => {
    const secret = generateWebhookSecret();
    const c = loadConfig({
      ...base,
      JOB_CONCURRENCY: '2',
      JOB_RETRY_ON_RESTART: 'false',
      JOB_LOCK_SECONDS: '2.5',
      WEBHOOK_URL: 'https://hooks.example.com/all',
      WEBHOOK_SECRET: secret,
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_TIMEOUT_SECONDS: '2.5',
      WEBHOOK_RETRY_BASE_SECONDS: '0.5',
      WEBHOOK_RETRY_MAX_SECONDS: '60',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      IDEMPOTENCY_TTL_SECONDS: '60',
    });
    expect(c.jobs).toEqual({ concurrency: 2, retryOnRestart: false, lockMs: 2500 });
    expect(c.webhooks).toEqual({
      url: 'https://hooks.example.com/all',
      secret,
      maxAttempts: 3,
      timeoutMs: 2500,
      retryBaseMs: 500,
      retryMaxMs: 60_000,
      allowPrivate: true,
    });
    expect(c.idempotencyTtlMs).toBe(60_000);
    expect(c.secretNames).toEqual(expect.arrayContaining(['WEBHOOK_URL', 'WEBHOOK_SECRET']));
  });

  it('refuse bad values with one line naming the variable, never echoing a secret', () => {
    for (const [name, value] of [
      ['WEBHOOK_URL', 'ftp://example.com/x'],
      ['WEBHOOK_URL', 'not a url'],
      ['WEBHOOK_SECRET', 'whsec_tooshort'],
      ['WEBHOOK_SECRET', 'plain-secret-value-without-prefix'],
      ['WEBHOOK_MAX_ATTEMPTS', '0'],
      ['JOB_CONCURRENCY', '0'],
      ['JOB_RETRY_ON_RESTART', 'maybe'],
      ['IDEMPOTENCY_TTL_SECONDS', '0'],
    ] as const) {
      let error: unknown;
      try {
        loadConfig({ ...base, [name]: value });
      } catch (err) {
        error = err;
      }
      expect(error, `${name}=${value}`).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(name);
      expect((error as Error).message.split('\n')).toHaveLength(1);
      if (name === 'WEBHOOK_SECRET' || name === 'WEBHOOK_URL') expect((error as Error).message).not.toContain(value);
    }
  });
});
