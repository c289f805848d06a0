// Where open mode listens: loopback whatever HOST says, unless OPEN_MODE_ALLOW_REMOTE; a server beyond loopback never serves without a key.
import { describe, expect, it } from 'vitest';
import { isLoopbackHost, listenPlan } from '../../src/security/open-mode.js';

const config = (host: string, extra: { keys?: string[]; allowRemote?: boolean } = {}) => ({
  host,
  openModeAllowRemote: extra.allowRemote ?? false,
  apiKeys: extra.keys ?? [],
  adminApiKeys: [],
});

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.0.2.2', false],
    ['127.example.com', false],
    ['', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('listenPlan', () => {
  it('open mode on a public HOST binds 127.0.0.1 and says why', () => {
    const plan = listenPlan(config('0.0.0.0'), 0);
    expect(plan).toMatchObject({ host: '127.0.0.1', openModeAllowed: true, notice: { level: 'warn' } });
    expect(plan.notice!.message).toMatch(/instead of HOST=0\.0\.0\.0.*OPEN_MODE_ALLOW_REMOTE/);
  });

  it('keys (configured or stored) keep HOST, and open mode is never allowed there', () => {
    expect(listenPlan(config('0.0.0.0', { keys: ['a-key-of-8+'] }), 0)).toEqual({
      host: '0.0.0.0',
      openModeAllowed: false,
    });
    expect(listenPlan(config('::', {}), 2)).toEqual({ host: '::', openModeAllowed: false });
  });

  it('the explicit opt-in keeps HOST and logs an error while open', () => {
    expect(listenPlan(config('0.0.0.0', { allowRemote: true }), 0)).toMatchObject({
      host: '0.0.0.0',
      openModeAllowed: true,
      notice: { level: 'error', message: expect.stringContaining('no authentication') },
    });
    expect(listenPlan(config('0.0.0.0', { allowRemote: true }), 1)).toEqual({ host: '0.0.0.0', openModeAllowed: true });
  });

  it('loopback is left as it is', () => {
    expect(listenPlan(config('127.0.0.1'), 0)).toEqual({ host: '127.0.0.1', openModeAllowed: true });
  });
});
