// Upload faults: the workspace disk full (a real 1 MiB tmpfs), the server SIGKILLed mid-upload, and the start-up sweep of upload temp files — a clear 507 or a recovered state, nothing acknowledged lost.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOrphans } from '../../src/engine/orphans.js';
import { TEMP_PREFIX } from '../../src/workspace/temp-names.js';
import { removeUploadLeftovers } from '../../src/workspace/paths.js';
import { useModelServer } from '../support/fixture.js';
import { needs } from '../support/needs.js';
import { useProcessFixture } from '../support/process-fixture.js';
import { cliProcesses, waitForNoCliProcesses } from '../support/processes.js';
import { apiOf, startServerProcess, type ServerProcess } from '../support/server-process.js';
import type { TestServer } from '../support/server.js';
import { createSession } from '../support/sessions.js';
import { eventually } from '../support/wait.js';

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Every entry under `dir` (hidden ones too), `/`-separated and sorted. */
const tree = (dir: string) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
const tempsIn = (dir: string) => tree(dir).filter((p) => p.split('/').pop()!.startsWith(TEMP_PREFIX));

function form(path: string | undefined, data: Buffer, filename: string): FormData {
  const fd = new FormData();
  if (path !== undefined) fd.append('path', path);
  fd.append('file', new Blob([data]), filename);
  return fd;
}

async function problem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = await res.json();
  expect(body.status).toBe(status);
  return body;
}

/** Bytes free for an unprivileged writer on the file system holding `dir`. */
const freeBytes = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

function mount(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' }); // busy: detach it now, the kernel frees it when the last user goes
  }
}

const isMounted = (dir: string) =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === dir);

const f = useModelServer();

describe.skipIf(await needs('the disk-full upload test', 'tmpfs'))('workspaces on a full disk (1 MiB tmpfs)', () => {
  let mountPoint: string;
  let t: TestServer;
  let ws: string;
  const FILES = '/api/v1/sessions/full/files';
  const upload = (fd: FormData) => t.request(FILES, { method: 'POST', body: fd });

  beforeAll(async () => {
    mountPoint = realpathSync(mkdtempSync(join(tmpdir(), 'cc-api-full-')));
    mount(mountPoint, '1m');
    // The database stays in the test server's own scratch folder; only the workspaces are on the small disk.
    t = await f.server({ APPROVED_DIRECTORY: mountPoint });
    ws = (await createSession(t, 'full')).workspace;
    expect(ws.startsWith(`${mountPoint}/`)).toBe(true);
  });

  afterAll(async () => {
    try {
      await t?.cleanup();
    } finally {
      if (mountPoint) {
        if (isMounted(mountPoint)) unmount(mountPoint);
        rmSync(mountPoint, { recursive: true, force: true });
      }
    }
  });

  it('an upload larger than the free space is a 507 problem; nothing is left, the old file is intact, and a small upload then succeeds', async () => {
    const kept = randomBytes(100 * 1024);
    const first = await upload(form('kept.bin', kept, 'kept.bin'));
    expect(first.status).toBe(201);
    expect((await first.json()).data.sha256).toBe(sha(kept));
    const before = tree(ws);
    expect(before).toEqual(['kept.bin']);
    const free = freeBytes(ws);
    expect(free).toBeLessThan(1024 * 1024);

    const big = randomBytes(2 * 1024 * 1024); // larger than the whole disk, well under MAX_UPLOAD_MB
    // A new file, in folders the upload has to create.
    const fresh = await problem(await upload(form('incoming/deep/big.bin', big, 'big.bin')), 507);
    expect(fresh.type).toBe('/problems/insufficient-storage');
    expect(fresh.detail).toMatch(/no space left/i);
    expect(tree(ws)).toEqual(before);
    expect(freeBytes(ws)).toBe(free);

    // Replacing the existing file: it stays as it was.
    const replace = await problem(await upload(form('kept.bin', big, 'kept.bin')), 507);
    expect(replace.type).toBe('/problems/insufficient-storage');
    expect(tree(ws)).toEqual(before);
    expect(tempsIn(ws)).toEqual([]);
    expect(freeBytes(ws)).toBe(free);
    expect(sha(readFileSync(join(ws, 'kept.bin')))).toBe(sha(kept));
    // fetch keeps the connection alive: this request only gets through if the 507 read the rest of the body.
    const download = await t.request(`${FILES}/kept.bin`);
    expect(download.status).toBe(200);
    expect(sha(Buffer.from(await download.arrayBuffer()))).toBe(sha(kept));

    // What fits still goes in.
    const small = randomBytes(64 * 1024);
    const after = await upload(form('incoming/small.bin', small, 'small.bin'));
    expect(after.status).toBe(201);
    expect((await after.json()).data).toMatchObject({
      path: 'incoming/small.bin',
      size: small.length,
      sha256: sha(small),
    });
    expect(sha(readFileSync(join(ws, 'incoming', 'small.bin')))).toBe(sha(small));
    expect(tree(ws)).toEqual(['incoming', 'incoming/small.bin', 'kept.bin']);
    expect(freeBytes(ws)).toBeLessThanOrEqual(free - small.length);
  });
});

describe('server SIGKILLed mid-upload', () => {
  const key = 'upload-kill-key-12345678';
  const p = useProcessFixture('cc-api-upload-kill-');
  const running: ServerProcess[] = [];

  afterAll(async () => {
    for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.all(running.map((s) => s.exited));
  });

  const start = async () => {
    const s = await startServerProcess(p.dir, p.serverEnv(key));
    running.push(s);
    return s;
  };

  it('leaves no half file under the final name and no temp file after a restart; the acknowledged upload is intact and uploads go on', async () => {
    const first = await start();
    const api1 = apiOf(first.url, key);
    const ws = (await createSession(first, 'u', {}, key)).workspace;
    const FILES = '/api/v1/sessions/u/files';

    const kept = randomBytes(300 * 1024);
    const acked = await api1(FILES, { method: 'POST', body: form('docs/kept.bin', kept, 'kept.bin') });
    expect(acked.status).toBe(201);
    expect((await acked.json()).data.sha256).toBe(sha(kept));

    // A 8 MiB upload of which only the first 256 KiB is ever sent.
    const boundary = '----cca-kill-upload';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="path"\r\n\r\ndocs/big.bin\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const declared = 8 * 1024 * 1024;
    const req = httpRequest(`${first.url}${FILES}`, {
      method: 'POST',
      headers: {
        'x-api-key': key,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + declared + tail.length),
      },
    });
    const outcome = new Promise<Error | number>((resolve) => {
      req.on('error', resolve);
      req.on('response', (res) => resolve(res.statusCode ?? 0));
    });
    req.write(head);
    req.write(randomBytes(256 * 1024));
    // The server has the body in hand once its temp file holds bytes: kill it there.
    const temp = await eventually(
      () => {
        const [name] = tempsIn(join(ws, 'docs'));
        return name !== undefined && statSync(join(ws, 'docs', name)).size > 0 ? name : undefined;
      },
      30_000,
      'the upload temp file to hold bytes',
    );
    first.child.kill('SIGKILL');
    expect(await outcome).toBeInstanceOf(Error);
    expect(await first.exited).toBeNull();
    expect(first.child.signalCode).toBe('SIGKILL');
    await waitForNoCliProcesses({ under: join(p.dir, 'data') }, 20_000);
    expect(findOrphans(join(p.dir, 'data'))).toEqual([]);
    // What the dead server left: its temp file, never a file under the final name.
    expect(existsSync(join(ws, 'docs', 'big.bin'))).toBe(false);
    expect(existsSync(join(ws, 'docs', temp))).toBe(true);

    const second = await start();
    try {
      const api2 = apiOf(second.url, key);
      expect(second.output()).toMatch(/removed 1 temp file\(s\) of uploads cut off when the server last stopped/);
      expect(existsSync(join(ws, 'docs', 'big.bin'))).toBe(false);
      expect(tempsIn(ws)).toEqual([]);
      expect(tree(ws)).toEqual(['docs', 'docs/kept.bin']);
      expect(sha(readFileSync(join(ws, 'docs', 'kept.bin')))).toBe(sha(kept));
      const download = await api2(`${FILES}/docs/kept.bin`);
      expect(download.status).toBe(200);
      expect(sha(Buffer.from(await download.arrayBuffer()))).toBe(sha(kept));
      expect((await api2(`${FILES}/docs/big.bin`)).status).toBe(404);

      // The name the killed upload was going to is free, and uploads work again.
      const again = randomBytes(512 * 1024);
      const res = await api2(FILES, { method: 'POST', body: form('docs/big.bin', again, 'big.bin') });
      expect(res.status).toBe(201);
      expect((await res.json()).data).toMatchObject({
        path: 'docs/big.bin',
        size: again.length,
        sha256: sha(again),
        created: true,
      });
      expect(sha(readFileSync(join(ws, 'docs', 'big.bin')))).toBe(sha(again));
      expect(tempsIn(ws)).toEqual([]);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
    await waitForNoCliProcesses({ under: join(p.dir, 'data') }, 20_000);
    expect(findOrphans(join(p.dir, 'data'))).toEqual([]);
    expect(cliProcesses({ under: join(p.dir, 'data') })).toEqual([]);
  });
});

describe('the start-up sweep of upload temp files', () => {
  it('removes only upload temp files inside workspaces, never through a symlink and never other names', async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'cc-api-sweep-')));
    const outside = realpathSync(mkdtempSync(join(tmpdir(), 'cc-api-sweep-out-')));
    try {
      const temp = `${TEMP_PREFIX}0123456789abcdef.tmp`;
      const ws = join(root, 'k_0123456789abcdef', 'box');
      mkdirSync(join(ws, '.hidden', 'deep'), { recursive: true });
      for (const p of [temp, `.hidden/deep/${temp}`]) writeFileSync(join(ws, p), 'partial');
      // Look-alikes, a temp name that is a folder, a file outside any tenant folder, and one reached only through a link.
      const kept = [`${TEMP_PREFIX}notes.tmp`, `${TEMP_PREFIX}0123456789abcdef.tmp.bak`, 'report.tmp'];
      for (const p of kept) writeFileSync(join(ws, p), 'keep');
      mkdirSync(join(ws, `${TEMP_PREFIX}fedcba9876543210.tmp`));
      mkdirSync(join(root, 'shared'));
      writeFileSync(join(root, 'shared', temp), 'not a workspace');
      writeFileSync(join(outside, temp), 'outside');
      symlinkSync(outside, join(ws, 'out-link'));

      expect((await removeUploadLeftovers(root)).sort()).toEqual(
        [`k_0123456789abcdef/box/${temp}`, `k_0123456789abcdef/box/.hidden/deep/${temp}`].sort(),
      );
      expect(existsSync(join(ws, temp))).toBe(false);
      expect(existsSync(join(ws, '.hidden', 'deep', temp))).toBe(false);
      for (const p of kept) expect(readFileSync(join(ws, p), 'utf8'), p).toBe('keep');
      expect(statSync(join(ws, `${TEMP_PREFIX}fedcba9876543210.tmp`)).isDirectory()).toBe(true);
      expect(readFileSync(join(root, 'shared', temp), 'utf8')).toBe('not a workspace');
      expect(readFileSync(join(outside, temp), 'utf8')).toBe('outside');
      expect(await removeUploadLeftovers(root)).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
