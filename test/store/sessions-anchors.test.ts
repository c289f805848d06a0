// The sessions table's anchor columns (migration 0004) and the working-directory query, on SQLite and on PostgreSQL (fails loudly in CI when it is missing).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type Store } from '../../src/store/index.js';
import { needs } from '../support/needs.js';
import { createTempDatabase } from '../support/postgres.js';

const pgMissing = await needs('the PostgreSQL half of the session anchor tests', 'postgresql');

function suite(label: string, open: () => Promise<{ url: string; drop(): Promise<void> }>, missing?: string) {
  describe.skipIf(missing)(`session anchors on ${label}`, () => {
    let db: { url: string; drop(): Promise<void> };
    let store: Store;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      db = await open();
      store = await createStore(db.url);
      await store.migrate();
      // Names with LIKE wildcards and a character past the BMP: compared as text, never as patterns.
      for (const workspace of [
        '/w/k_a/one',
        '/w/k_a/one2',
        '/w/k_a/o_e',
        '/w/k_a/%',
        '/w/shared/deep/ws',
        '/w/k_a/😀/x',
      ]) {
        const id = randomUUID();
        ids[workspace] = id;
        await store.sessions.create({
          id,
          owner: 'k_a',
          name: workspace,
          workspace,
          working_dir: workspace,
          workspace_dev: '2049',
          workspace_ino: '18446744073709551615',
          status: 'pending',
        });
      }
    });

    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    it('keeps a 64-bit inode exactly, and null until recorded', async () => {
      const row = await store.sessions.findById(ids['/w/k_a/one']!);
      expect(row).toMatchObject({
        workspace_dev: '2049',
        workspace_ino: '18446744073709551615',
        working_dir_ino: null,
      });
      await store.sessions.update(row!.id, { working_dir_dev: '1', working_dir_ino: '2' });
      expect(await store.sessions.findById(row!.id)).toMatchObject({ working_dir_dev: '1', working_dir_ino: '2' });
    });

    it('finds the workspaces that are one of the paths or lie below a folder, and only those', async () => {
      const found = async (paths: string[], below: string, except?: string) =>
        (await store.sessions.workspacesAt(paths, below, except)).map((r) => r.workspace).sort();
      expect(await found(['/w/k_a/one'], '/w/k_a/one')).toEqual(['/w/k_a/one']);
      expect(await found([], '/w/k_a')).toEqual(
        ['/w/k_a/%', '/w/k_a/o_e', '/w/k_a/one', '/w/k_a/one2', '/w/k_a/😀/x'].sort(),
      );
      expect(await found(['/w/k_a/o'], '/w/k_a/o')).toEqual([]);
      expect(await found(['/w/k_a/_'], '/w/k_a/_')).toEqual([]);
      expect(await found([], '/w/k_a/😀')).toEqual(['/w/k_a/😀/x']);
      expect(await found(['/w/shared', '/w/shared/deep/ws/in'], '/w/shared/deep/ws/in')).toEqual([]);
      expect(await found(['/w/shared/deep/ws', '/w/shared'], '/w/shared/deep/ws/in')).toEqual(['/w/shared/deep/ws']);
      expect(await found(['/w/k_a/one'], '/w/k_a/one', ids['/w/k_a/one'])).toEqual([]);
    });
  });
}

suite('SQLite', async () => ({ url: 'sqlite::memory:', drop: async () => {} }));
suite('PostgreSQL', () => createTempDatabase('cca_anchor_test'), pgMissing);
