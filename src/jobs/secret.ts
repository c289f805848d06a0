// The webhook signing secret: WEBHOOK_SECRET, else the one kept in DATA_DIR, else a new one generated and saved (the log names the file and a fingerprint, never the secret).
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isWebhookSecret } from '../config/index.js';

export const SECRET_FILE = 'webhook-secret';

/** A new Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** A fingerprint of a secret that can be logged and compared: `sha256:` and the first 16 hex digits of its SHA-256. */
export function secretFingerprint(secret: string): string {
  return `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`;
}

async function readSecret(path: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    if (!isWebhookSecret(text))
      throw new Error(
        `${path} does not hold a webhook secret (whsec_ and 24–64 bytes in base64); fix or delete it, or set WEBHOOK_SECRET`,
      );
    return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function loadWebhookSecret(configured: string | undefined, dataDir: string, log: Logger): Promise<string> {
  if (configured) return configured;
  const path = join(dataDir, SECRET_FILE);
  const kept = await readSecret(path);
  if (kept) return kept;
  const secret = generateWebhookSecret();
  try {
    await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readSecret(path))!; // another process was first
    throw err;
  }
  // Logs are shipped elsewhere: they name where the secret is and how to recognise it, never the secret itself.
  const fingerprint = secretFingerprint(secret);
  log.warn(
    { path, fingerprint },
    `WEBHOOK_SECRET is not set: generated a webhook signing secret and saved it in ${path} (${fingerprint}); give receivers the content of that file.`,
  );
  return secret;
}
