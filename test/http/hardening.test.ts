// HTTP hardening: helmet headers (with a CSP Swagger UI works under), CORS only as configured, bad bodies refused, no secrets in problems or logs.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { ADMIN_KEY, appWithStore, USER_KEY, type AppWithStore } from '../support/app-with-store.js';

describe('security headers', () => {
  let t: AppWithStore;
  beforeAll(async () => {
    t = await appWithStore();
  });
  afterAll(() => t.close());

  it.each([
    ['a success', { url: '/api/v1/usage', headers: { 'x-api-key': USER_KEY } }, 200],
    ['a problem', { url: '/api/v1/usage' }, 401],
    ['an unknown route', { url: '/api/v1/nothing-here' }, 404],
    ['the health check', { url: '/api/v1/health' }, 200],
  ])('are on %s', async (_what, req, status) => {
    const res = await t.app.inject(req);
    expect(res.statusCode).toBe(status);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('the CSP lets Swagger UI load: its page uses only same-origin scripts, styles may be inline, no HTTPS upgrade', async () => {
    const page = await t.app.inject({ url: '/docs/' });
    expect(page.statusCode).toBe(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("img-src 'self' data:");
    expect(csp).not.toContain('upgrade-insecure-requests');
    // No inline script bodies (they would need 'unsafe-inline'): every <script> has a relative src.
    const scripts = [...page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/src="\.\/static\//);
      expect(body!.trim()).toBe('');
    }
    for (const asset of [
      '/docs/static/swagger-initializer.js',
      '/docs/static/swagger-ui-bundle.js',
      '/docs/static/swagger-ui.css',
    ]) {
      const res = await t.app.inject({ url: asset });
      expect(res.statusCode, asset).toBe(200);
    }
    // The page fetches the document from its own origin (connect-src 'self').
    const initializer = (await t.app.inject({ url: '/docs/static/swagger-initializer.js' })).body;
    expect(initializer).toContain("resolveUrl('./json')");
    expect((await t.app.inject({ url: '/docs/json' })).statusCode).toBe(200);
  });
});

describe('CORS', () => {
  const preflight = (origin: string) => ({
    method: 'OPTIONS' as const,
    url: '/api/v1/usage',
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-api-key' },
  });

  it('none configured: no CORS headers at all, preflights are not answered', async () => {
    const t = await appWithStore({ CORS_ORIGINS: '' });
    try {
      const res = await t.app.inject({
        url: '/api/v1/usage',
        headers: { 'x-api-key': USER_KEY, origin: 'https://app.example.com' },
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      const pre = await t.app.inject(preflight('https://app.example.com'));
      expect(pre.statusCode).toBe(404);
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('a list: listed origins are allowed (preflight without a key), others get no CORS headers', async () => {
    const t = await appWithStore({ CORS_ORIGINS: 'https://app.example.com, http://localhost:3000' });
    try {
      const pre = await t.app.inject(preflight('https://app.example.com'));
      expect(pre.statusCode).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe('https://app.example.com');
      expect(String(pre.headers['access-control-allow-headers'])).toContain('X-API-Key');
      expect(String(pre.headers['access-control-allow-methods'])).toContain('DELETE');
      expect(pre.headers['access-control-allow-credentials']).toBeUndefined();

      const res = await t.app.inject({
        url: '/api/v1/usage',
        headers: { 'x-api-key': USER_KEY, origin: 'http://localhost:3000' },
      });
      expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3000');
      expect(String(res.headers.vary)).toMatch(/Origin/i);
      expect(String(res.headers['access-control-expose-headers'])).toContain('X-RateLimit-Remaining');

      const denied = await t.app.inject({
        url: '/api/v1/usage',
        headers: { 'x-api-key': USER_KEY, origin: 'https://evil.example.net' },
      });
      expect(denied.headers['access-control-allow-origin']).toBeUndefined();
      const deniedPre = await t.app.inject(preflight('https://evil.example.net'));
      expect(deniedPre.headers['access-control-allow-origin']).toBeUndefined();
      // Problems carry CORS headers too, so a browser client can read them.
      const problem = await t.app.inject({ url: '/api/v1/usage', headers: { origin: 'https://app.example.com' } });
      expect(problem.statusCode).toBe(401);
      expect(problem.headers['access-control-allow-origin']).toBe('https://app.example.com');
    } finally {
      await t.close();
    }
  });

  it('`*` only when written explicitly', async () => {
    const t = await appWithStore({ CORS_ORIGINS: '*' });
    try {
      const res = await t.app.inject({
        url: '/api/v1/usage',
        headers: { 'x-api-key': USER_KEY, origin: 'https://anyone.example' },
      });
      expect(res.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await t.close();
    }
  });

  it('a malformed origin is a start-up error naming CORS_ORIGINS', () => {
    expect(() => loadConfig({ CORS_ORIGINS: 'https://ok.example,app.example.com/path' })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://a.example/' })).toThrow(/CORS_ORIGINS/);
  });
});

describe('bad bodies', () => {
  let t: AppWithStore;
  beforeAll(async () => {
    t = await appWithStore({ BODY_LIMIT_MB: '0.01' });
  });
  afterAll(() => t.close());

  it.each([
    [
      'oversize',
      { payload: JSON.stringify({ name: 'x'.repeat(20_000) }), headers: { 'content-type': 'application/json' } },
      413,
      '/problems/payload-too-large',
    ],
    [
      'malformed JSON',
      { payload: '{"name": ', headers: { 'content-type': 'application/json' } },
      400,
      '/problems/bad-json',
    ],
    ['empty JSON', { payload: '', headers: { 'content-type': 'application/json' } }, 400, '/problems/bad-json'],
    [
      'not JSON',
      { payload: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
      '/problems/unsupported-media-type',
    ],
    [
      'the wrong shape',
      { payload: JSON.stringify([1, 2]), headers: { 'content-type': 'application/json' } },
      422,
      '/problems/validation-failed',
    ],
  ])('%s → a problem, nothing created', async (_what, req, status, type) => {
    const before = (await t.store.apiKeys.list({ offset: 0, limit: 1 })).total;
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/keys',
      ...req,
      headers: { ...req.headers, 'x-api-key': ADMIN_KEY },
    });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().type).toBe(type);
    expect((await t.store.apiKeys.list({ offset: 0, limit: 1 })).total).toBe(before);
  });
});

describe('secrets stay out of logs and problems', () => {
  it('keys sent in headers or the query string never appear in any log line, at any level', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const t = await appWithStore({}, { logger: { level: 'trace', stream } });
    try {
      const created = await t.app.inject({
        method: 'POST',
        url: '/api/v1/keys',
        headers: { 'x-api-key': ADMIN_KEY },
        payload: { name: 'logged?' },
      });
      const secret: string = created.json().data.secret;
      const guess = 'cca_guessed-secret-value-0000';
      const requests = [
        { url: `/api/v1/usage?api_key=${USER_KEY}&key=${secret}&token=${ADMIN_KEY}` },
        { url: '/api/v1/usage', headers: { 'x-api-key': secret } },
        { url: '/api/v1/usage', headers: { authorization: `Bearer ${USER_KEY}` } },
        { url: '/api/v1/usage', headers: { 'x-api-key': guess } },
        { url: `/api/v1/nothing?access_token=${secret}`, headers: { authorization: `Bearer ${guess}` } },
        {
          method: 'POST' as const,
          url: `/api/v1/keys?secret=${secret}`,
          headers: { 'x-api-key': ADMIN_KEY },
          payload: '{oops',
          contentType: 'application/json',
        },
      ];
      for (const r of requests) {
        const { contentType, ...req } = r;
        const res = await t.app.inject({
          ...req,
          headers: { ...req.headers, ...(contentType ? { 'content-type': contentType } : {}) },
        });
        expect(res.statusCode).toBeLessThan(500);
        for (const s of [USER_KEY, ADMIN_KEY, secret, guess]) expect(res.body).not.toContain(s);
      }
      const log = lines.join('');
      expect(log).toContain('request completed');
      for (const s of [USER_KEY, ADMIN_KEY, secret, guess]) expect(log, s).not.toContain(s);
    } finally {
      await t.close();
    }
  });
});
