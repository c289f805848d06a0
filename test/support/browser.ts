// Real Chromium for end-to-end tests (Debian's package, driven by playwright-core); missing, it skips loudly, and fails in CI.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why no browser test can run (undefined when one can). In CI a missing browser throws instead. */
export function chromiumUnavailable(what: string): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const message = `chromium is not installed (${CHROMIUM_PATH}; Debian package "chromium")`;
  if (process.env.CI) throw new Error(`${message}; CI requires ${what}`);
  console.warn(`SKIPPED: ${message}; skipping ${what}`);
  return message;
}

/** A headless Chromium with a fresh profile; `close()` also removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'cc-api-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 860 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
