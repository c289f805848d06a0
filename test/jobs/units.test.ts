// Small pieces of the jobs layer: time-ordered ids, retry backoff with jitter, the webhook secret file.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { isWebhookSecret } from '../../src/config/index.js';
import { retryDelayMs } from '../../src/jobs/backoff.js';
import { timeOrderedId } from '../../src/jobs/ids.js';
import { generateWebhookSecret, loadWebhookSecret, SECRET_FILE } from '../../src/jobs/secret.js';

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
    expect(wh.verify('{"a":1}', { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature })).toEqual({ a: 1 });
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

  it('generates, saves (0600) and prints a secret once; later starts read it silently', async () => {
    const first = capture();
    const secret = await loadWebhookSecret(undefined, dir, first.log);
    expect(isWebhookSecret(secret)).toBe(true);
    expect(first.lines).toHaveLength(1);
    expect(first.lines[0]).toContain(secret);
    const file = join(dir, SECRET_FILE);
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
