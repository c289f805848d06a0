// Open mode (no keys) stays on loopback: where the server listens, and whether it may ever serve without a key.
import { isIP } from 'node:net';
import type { Config } from '../config/index.js';

/** True for 127.0.0.0/8, ::1, an IPv4-mapped loopback and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export interface ListenPlan {
  /** The address to bind. */
  host: string;
  /** false: the server never falls into open mode (KeyService), even once every key is revoked. */
  openModeAllowed: boolean;
  /** What to log at start-up, and at which level. */
  notice?: { level: 'warn' | 'error'; message: string };
}

/**
 * Where to listen. Open mode (no configured key, `storedKeys` 0) binds 127.0.0.1 whatever HOST says, unless
 * OPEN_MODE_ALLOW_REMOTE; a server bound beyond loopback without that opt-in never serves without a key.
 */
export function listenPlan(
  config: Pick<Config, 'host' | 'openModeAllowRemote' | 'apiKeys' | 'adminApiKeys'>,
  storedKeys: number,
): ListenPlan {
  const open = config.apiKeys.length + config.adminApiKeys.length + storedKeys === 0;
  if (isLoopbackHost(config.host)) return { host: config.host, openModeAllowed: true };
  if (config.openModeAllowRemote) {
    return {
      host: config.host,
      openModeAllowed: true,
      ...(open && {
        notice: {
          level: 'error',
          message: `OPEN_MODE_ALLOW_REMOTE=true: open mode listens on ${config.host} with no authentication at all; anyone who reaches this port can run commands through Claude Code and mint admin keys.`,
        },
      }),
    };
  }
  if (!open) return { host: config.host, openModeAllowed: false };
  return {
    host: '127.0.0.1',
    openModeAllowed: true,
    notice: {
      level: 'warn',
      message: `Open mode (no API key configured or stored): listening on 127.0.0.1 instead of HOST=${config.host}. Set API_KEYS or ADMIN_API_KEYS (or create a key with \`claude-code-api keys create\`) to serve beyond loopback, or set OPEN_MODE_ALLOW_REMOTE=true to serve without authentication anyway.`,
    },
  };
}
