// Webhook target checks: every internal IPv4/IPv6 range refused (mapped and embedded forms too), schemes, DNS answers, rebinding.
import { describe, expect, it } from 'vitest';
import {
  forbiddenAddressReason,
  ipv6Bytes,
  parseWebhookUrl,
  resolveWebhookTarget,
  UnsafeUrlError,
  type Resolver,
} from '../../src/jobs/ssrf.js';

describe('forbiddenAddressReason', () => {
  const refused: [string, RegExp][] = [
    ['127.0.0.1', /loopback/],
    ['127.255.1.2', /loopback/],
    ['10.0.0.1', /private/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.168.0.10', /private/],
    ['100.64.0.1', /carrier-grade/],
    ['169.254.169.254', /metadata/],
    ['169.254.10.10', /link-local/],
    ['100.100.100.200', /metadata/],
    ['168.63.129.16', /metadata/],
    ['0.0.0.0', /unspecified/],
    ['0.1.2.3', /unspecified/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['255.255.255.255', /reserved/],
    ['198.18.0.1', /benchmark/],
    ['192.0.2.1', /documentation/],
    ['::', /unspecified/],
    ['::1', /loopback/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['fc00::1', /unique local/],
    ['fd12:3456::1', /unique local/],
    ['fd00:ec2::254', /metadata/],
    ['ff02::1', /multicast/],
    ['fec0::1', /site-local/],
    ['::ffff:127.0.0.1', /loopback.*IPv4-mapped/],
    ['::ffff:7f00:1', /loopback.*IPv4-mapped/],
    ['::ffff:10.1.2.3', /private.*IPv4-mapped/],
    ['::ffff:169.254.169.254', /metadata/],
    ['::127.0.0.1', /loopback.*IPv4-compatible/],
    ['64:ff9b::a9fe:a9fe', /metadata.*NAT64/],
    ['64:ff9b::192.168.1.1', /private.*NAT64/],
    ['2002:7f00:1::', /loopback.*6to4/],
    ['2002:c0a8:0101::1', /private.*6to4/],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/],
    ['2001:db8::1', /documentation/],
  ];
  for (const [address, reason] of refused) {
    it(`refuses ${address}`, () => {
      expect(forbiddenAddressReason(address)).toMatch(reason);
    });
  }

  const allowed = [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.32.0.1',
    '172.15.255.255',
    '100.128.0.1',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ];
  for (const address of allowed) {
    it(`allows ${address}`, () => {
      expect(forbiddenAddressReason(address)).toBeUndefined();
    });
  }

  it('treats what is not an IP address as refused', () => {
    expect(forbiddenAddressReason('example.com')).toBe('not an IP address');
  });

  it('expands IPv6 forms to 16 bytes', () => {
    expect(ipv6Bytes('::1')).toEqual([...Array(15).fill(0), 1]);
    expect(ipv6Bytes('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
    expect(ipv6Bytes('2001:db8:0:0:1:0:0:1')).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    expect(ipv6Bytes('1.2.3.4')).toBeUndefined();
  });
});

describe('parseWebhookUrl', () => {
  it('accepts http and https URLs', () => {
    expect(parseWebhookUrl('https://hooks.example.com/a?b=1').hostname).toBe('hooks.example.com');
    expect(parseWebhookUrl('http://[2606:4700::1]:8080/x').hostname).toBe('[2606:4700::1]');
  });

  for (const url of [
    'ftp://example.com/',
    'file:///etc/passwd',
    'gopher://x/',
    'javascript:alert(1)',
    'data:text/plain,hi',
    'ws://example.com/',
    '/relative/path',
    'example.com/hook',
    '',
  ]) {
    it(`refuses ${JSON.stringify(url)}`, () => {
      expect(() => parseWebhookUrl(url)).toThrow(UnsafeUrlError);
    });
  }
});

describe('resolveWebhookTarget', () => {
  const dns =
    (answers: Record<string, string[]>): Resolver =>
    async (host) => {
      const list = answers[host];
      if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };

  it('returns the public addresses a name resolves to', async () => {
    const resolver = dns({ 'hooks.example.com': ['93.184.216.34', '2606:2800:220:1::1'] });
    expect(
      await resolveWebhookTarget(new URL('https://hooks.example.com/x'), { allowPrivate: false, resolver }),
    ).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
  });

  it('refuses a name when any of its addresses is internal', async () => {
    const resolver = dns({ 'mixed.example.com': ['93.184.216.34', '10.0.0.5'] });
    await expect(
      resolveWebhookTarget(new URL('https://mixed.example.com/'), { allowPrivate: false, resolver }),
    ).rejects.toThrow(/private address: mixed.example.com \(10.0.0.5\)/);
  });

  it('refuses IP literals without asking DNS, including the WHATWG-normalized forms', async () => {
    const resolver: Resolver = async () => {
      throw new Error('DNS must not be asked');
    };
    for (const url of [
      'http://127.0.0.1/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://[::ffff:127.0.0.1]/',
      'http://[0:0:0:0:0:ffff:7f00:1]/',
    ]) {
      await expect(resolveWebhookTarget(new URL(url), { allowPrivate: false, resolver }), url).rejects.toThrow(
        /loopback/,
      );
    }
  });

  it('refuses names that do not resolve, or resolve too slowly', async () => {
    await expect(
      resolveWebhookTarget(new URL('https://nowhere.invalid/'), { allowPrivate: false, resolver: dns({}) }),
    ).rejects.toThrow(/does not resolve \(ENOTFOUND\)/);
    const slow: Resolver = () => new Promise(() => {});
    await expect(
      resolveWebhookTarget(new URL('https://slow.example.com/'), {
        allowPrivate: false,
        resolver: slow,
        timeoutMs: 50,
      }),
    ).rejects.toThrow(/did not resolve in time/);
  });

  it('allows internal addresses with WEBHOOK_ALLOW_PRIVATE', async () => {
    expect(await resolveWebhookTarget(new URL('http://127.0.0.1:9/'), { allowPrivate: true })).toEqual([
      { address: '127.0.0.1', family: 4 },
    ]);
  });

  it('resolves the real localhost to a refused address', async () => {
    await expect(resolveWebhookTarget(new URL('http://localhost/'), { allowPrivate: false })).rejects.toThrow(
      /loopback/,
    );
  });
});
