// Session folders reopened by anchor: the walk from the root refuses links anywhere, a missing folder, a file, and another folder under the recorded name.
import { mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { openAnchored, type Anchor } from '../../src/workspace/session-dirs.js';

const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'cca-anchor-')));
let root: string;
let ws: string;
let anchor: Anchor;
let n = 0;

beforeEach(async () => {
  root = join(scratch, `root${++n}`);
  ws = join(root, 'k_0123456789abcdef', 's1');
  mkdirSync(ws, { recursive: true });
  writeFileSync(join(ws, 'a.txt'), 'a');
  const made = await openAnchored(root, { path: ws, anchor: null }, 'the workspace');
  anchor = made.anchor;
  await made.dir.close();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const open = (path = ws, recorded: Anchor | null = anchor) =>
  openAnchored(root, { path, anchor: recorded }, 'the workspace');
const refused = (path = ws, recorded: Anchor | null = anchor) =>
  expect(open(path, recorded)).rejects.toMatchObject({ name: 'WorkspaceError', reason: 'moved' });

describe('openAnchored', () => {
  it('opens the recorded folder as its own base, with the root and the anchor', async () => {
    const { dir, anchor: now, root: realRoot } = await open();
    try {
      expect(now).toEqual(anchor);
      expect(realRoot).toBe(root);
      expect(dir.real).toBe(ws);
      expect(dir.base).toBe(ws);
      expect(dir.relative).toBe('');
    } finally {
      await dir.close();
    }
  });

  it("accepts its own inode under another device number on the root's file system (another machine's NFS mount)", async () => {
    // Another node of a cluster sees the shared folder under its own device number; the inode is the server's.
    const elsewhere = { dev: `${anchor.dev}7`, ino: anchor.ino };
    const { dir } = await open(ws, elsewhere);
    await dir.close();
    // Under that device number, another inode is still another folder.
    await refused(ws, { dev: elsewhere.dev, ino: `${anchor.ino}1` });
    renameSync(ws, `${ws}.old`);
    mkdirSync(ws);
    await refused(ws, elsewhere);
  });

  it('refuses the folder swapped for a link (to /, or to another folder inside the root)', async () => {
    renameSync(ws, `${ws}.bak`);
    symlinkSync('/', ws);
    await refused();
    rmSync(ws);
    symlinkSync(`${ws}.bak`, ws);
    await refused();
    await refused(ws, null);
  });

  it('refuses a link anywhere above it (the tenant folder swapped)', async () => {
    const tenant = join(root, 'k_0123456789abcdef');
    renameSync(tenant, `${tenant}.bak`);
    symlinkSync(`${tenant}.bak`, tenant);
    await refused();
  });

  it('refuses another folder under the recorded name, a file there, or nothing', async () => {
    renameSync(ws, `${ws}.old`);
    mkdirSync(ws);
    await expect(open()).rejects.toThrow(/another folder now has the name/);
    rmSync(ws, { recursive: true });
    writeFileSync(ws, 'file');
    await refused();
    rmSync(ws);
    await refused();
  });

  it('refuses a stored path outside the root, and works again once the folder is put back', async () => {
    await refused(join(scratch, 'elsewhere'));
    renameSync(ws, `${ws}.bak`);
    await refused();
    renameSync(`${ws}.bak`, ws);
    const { dir } = await open();
    await dir.close();
  });
});
