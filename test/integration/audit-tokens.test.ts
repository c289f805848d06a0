// Token counts without the full server: no credentials → a marked estimate over HTTP; bearer tokens; unreachable or failing endpoints.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateTokens, TokenCounter } from '../../src/usage/token-count.js';
import { useModelServer } from '../support/fixture.js';
import { appWithStore, USER_KEY, type AppWithStore } from '../support/app-with-store.js';

const f = useModelServer();

describe('POST /api/v1/tokens/count without credentials', () => {
  let t: AppWithStore;
  beforeAll(async () => {
    t = await appWithStore();
  });
  afterAll(() => t.close());

  it('answers an estimate, clearly marked, with the reason', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens/count',
      headers: { 'x-api-key': USER_KEY },
      payload: { message: 'x'.repeat(400) },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().data).toEqual({
      input_tokens: 104,
      estimated: true,
      model: 'claude-sonnet-4-5',
      source: 'estimate',
      reason: expect.stringMatching(/ANTHROPIC_API_KEY/),
    });
  });

  it('validates its body', async () => {
    for (const payload of [
      { messages: [] },
      { messages: [{ role: 'system', content: 'x' }] },
      { message: 5 },
      { message: 'x', extra: true },
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tokens/count',
        headers: { 'x-api-key': USER_KEY },
        payload,
      });
      expect(res.statusCode, JSON.stringify(payload)).toBe(422);
    }
  });
});

describe('TokenCounter', () => {
  const messages = [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'count me in' }] }];

  it('uses ANTHROPIC_AUTH_TOKEN as a bearer token when there is no API key', async () => {
    const counter = new TokenCounter({
      env: { ANTHROPIC_AUTH_TOKEN: 'tok-123', ANTHROPIC_BASE_URL: `${f.model.url}/` },
    });
    const count = await counter.count({ model: 'opus', messages });
    expect(count).toMatchObject({ estimated: false, source: 'count_tokens_api', model: 'claude-opus-4-1' });
    const seen = await f.model.waitFor(
      (r) => r.path === '/v1/messages/count_tokens' && JSON.stringify(r.body).includes('count me in'),
    );
    expect(seen.headers.authorization).toBe('Bearer tok-123');
    expect(seen.headers['x-api-key']).toBeUndefined();
  });

  it('falls back to a marked estimate when the endpoint fails, is unreachable or is slow', async () => {
    const failing: Server = createServer((req, res) => {
      if (req.url?.includes('slow')) return; // never answers
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'model: unknown' } }));
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
    try {
      const bad = await new TokenCounter({ env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: url } }).count({
        messages,
      });
      expect(bad).toMatchObject({
        estimated: true,
        source: 'estimate',
        reason: 'The count_tokens endpoint answered 400: model: unknown.',
      });
      const slow = await new TokenCounter({
        env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: `${url}/slow` },
        timeoutMs: 300,
      }).count({ messages });
      expect(slow.reason).toMatch(/did not answer in time/);
      const gone = await new TokenCounter({
        env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: 'http://127.0.0.1:1' },
      }).count({ messages });
      expect(gone).toMatchObject({ estimated: true, reason: expect.stringMatching(/could not be reached/) });
      expect(gone.input_tokens).toBe(estimateTokens({ messages }));
    } finally {
      failing.closeAllConnections();
      await new Promise((resolve) => failing.close(resolve));
    }
  });

  it('estimates about four characters a token, plus a little per message and system prompt', () => {
    expect(estimateTokens({ messages: [{ role: 'user', content: 'abcd'.repeat(25) }] })).toBe(29);
    expect(estimateTokens({ system: 'abcd', messages: [{ role: 'user', content: '' }] })).toBe(9);
  });
});
