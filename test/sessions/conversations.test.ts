// Conversation digests, splitting and framing, and the heads repository on SQLite and PostgreSQL: one claim per head, scopes never cross.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  digestOf,
  framedHistory,
  prefixDigests,
  splitConversation,
  type ConversationMessage,
} from '../../src/sessions/conversations.js';
import { createStore, type Store } from '../../src/store/index.js';
import { needs } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';

const talk: ConversationMessage[] = [
  { role: 'user', text: 'write a file' },
  { role: 'assistant', text: 'Done.' },
  { role: 'user', text: 'now read it' },
];

describe('conversation digests', () => {
  it('covers every prefix, chained: a prefix digest is the digest of that prefix', () => {
    const all = prefixDigests(talk);
    expect(all).toHaveLength(talk.length + 1);
    expect(new Set(all).size).toBe(all.length);
    expect(all[2]).toBe(digestOf(talk.slice(0, 2)));
  });

  it('ignores surrounding whitespace but not roles, order or text', () => {
    const padded = talk.map((m) => ({ ...m, text: `  ${m.text}\n` }));
    expect(digestOf(padded)).toBe(digestOf(talk));
    const swapped: ConversationMessage[] = [{ ...talk[0]!, role: 'assistant' }, ...talk.slice(1)];
    expect(digestOf(swapped)).not.toBe(digestOf(talk));
    expect(digestOf([talk[1]!, talk[0]!])).not.toBe(digestOf(talk.slice(0, 2)));
    expect(digestOf([{ role: 'user', text: 'write a file!' }])).not.toBe(digestOf([talk[0]!]));
  });

  it('splits at the last answer: the user messages after it are what the request asks', () => {
    const more: ConversationMessage[] = [...talk, { role: 'user', text: 'and list it' }];
    expect(splitConversation(more)).toEqual({ earlier: talk.slice(0, 2), latest: ['now read it', 'and list it'] });
    expect(splitConversation([talk[0]!])).toEqual({ earlier: [], latest: ['write a file'] });
    expect(() => splitConversation(talk.slice(0, 2))).toThrow(/last message must be a user message/);
  });

  it('frames an unknown history as context before the new message', () => {
    const text = framedHistory(talk.slice(0, 2), ['now read it']);
    expect(text).toMatch(
      /<conversation_history>\n<user>\nwrite a file\n<\/user>\n<assistant>\nDone\.\n<\/assistant>\n<\/conversation_history>/,
    );
    expect(text.endsWith('The new message to answer:\n\nnow read it')).toBe(true);
  });
});

const scope = { tenant: 'k_0000000000000001', key_id: 'env_0000000000000001', end_user: '' };

function headsSuite(name: string, open: () => Promise<{ url: string; drop?: () => Promise<void> } | undefined>) {
  describe(`conversation heads (${name})`, () => {
    let store: Store | undefined;
    let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const db = await open();
      if (!db) return;
      drop = db.drop;
      store = await createStore(db.url);
      await store.migrate();
      for (const id of ['s1', 's2']) {
        await store.sessions.create({
          id,
          owner: scope.tenant,
          name: id,
          workspace: `/w/${id}`,
          working_dir: `/w/${id}`,
          status: 'active',
          claude_session_id: null,
          template: null,
          last_active_at: null,
        });
      }
    });
    afterAll(async () => {
      await store?.close();
      await drop?.();
    });

    it('finds a head in its own scope only, and lets exactly one caller claim it', async (t) => {
      if (!store) return t.skip();
      const repo = store.conversations;
      await repo.setHead({ ...scope, session_id: 's1', digest: 'd1' });
      expect((await repo.findHead(scope, 'd1'))?.session_id).toBe('s1');
      expect(await repo.findHead({ ...scope, key_id: 'env_0000000000000002' }, 'd1')).toBeUndefined();
      expect(await repo.findHead({ ...scope, end_user: 'alice' }, 'd1')).toBeUndefined();
      expect(await repo.findHead({ ...scope, tenant: 'k_0000000000000002' }, 'd1')).toBeUndefined();
      const claims = await Promise.all([repo.claim('s1', 'd1'), repo.claim('s1', 'd1')]);
      expect(claims.sort()).toEqual([false, true]);
      expect(await repo.findHead(scope, 'd1')).toBeUndefined();
    });

    it('keeps one head per session (the newest), and forgets it with its session', async (t) => {
      if (!store) return t.skip();
      const repo = store.conversations;
      await repo.setHead({ ...scope, session_id: 's2', digest: 'old' });
      await repo.setHead({ ...scope, session_id: 's2', digest: 'new' });
      expect(await repo.findHead(scope, 'old')).toBeUndefined();
      expect((await repo.findHead(scope, 'new'))?.session_id).toBe('s2');
      await store.sessions.delete('s2');
      expect(await repo.findHead(scope, 'new')).toBeUndefined();
    });
  });
}

headsSuite('SQLite', async () => ({ url: 'sqlite::memory:' }));
headsSuite('PostgreSQL', async () =>
  (await needs('the conversation heads tests', 'postgresql')) ? undefined : createTempDatabase('cc_compat'),
);
