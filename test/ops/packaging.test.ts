// The Docker image as the Dockerfile lays it out (no Docker engine needed): a non-root runtime stage with bubblewrap, a health check and volumes, holding all the server reads at run time; the server starts and stops from that layout.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_RULES_FILE } from '../../src/security/moderation.js';
import { BUILTIN_TEMPLATES_FILE } from '../../src/templates/registry.js';

const ROOT = process.cwd();
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.at(-1)!;

interface Copy {
  from: string | undefined;
  source: string;
  dest: string;
}

/** The runtime stage's COPY lines: `COPY [--from=stage] [--chown=…] <source> <dest>`. */
const copies: Copy[] = [...runtime.matchAll(/^COPY\s+(.*)$/gm)].map((m) => {
  const words = m[1]!.trim().split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const [source, dest] = words.filter((w) => !w.startsWith('--'));
  // A destination ending in / (./ included) is a folder the source goes into under its own name.
  return { from, source: source!, dest: dest!.endsWith('/') ? join(dest!, basename(source!)) : dest! };
});
const workdir = /^WORKDIR\s+(\S+)/m.exec(runtime)![1]!;
const envOf = (name: string) => new RegExp(`\\b${name}=(\\S+)`).exec(runtime)?.[1];

describe('the Dockerfile', () => {
  it('builds in one stage and runs in another, as a non-root user, with bubblewrap, tini, a health check and volumes', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime).toMatch(/^USER\s+(?!root\b|0\b)\S+/m);
    expect(runtime).toMatch(/apt-get install[^\n]*\bbubblewrap\b/);
    expect(runtime).toMatch(/apt-get install[^\n]*\bsocat\b/);
    expect(runtime).toMatch(/^HEALTHCHECK\b.*\/api\/v1\/health\/live/m);
    const volumes = JSON.parse(/^VOLUME\s+(\[.*\])/m.exec(runtime)![1]!) as string[];
    for (const name of ['DATA_DIR', 'APPROVED_DIRECTORY', 'CLAUDE_CONFIG_DIR'])
      expect(volumes, name).toContain(envOf(name));
  });

  it('copies into the image every file of the package the server reads at run time', () => {
    const copied = copies.map((c) => relative(workdir, join(workdir, c.dest)));
    const needed = [
      'dist',
      'node_modules',
      'package.json',
      relative(ROOT, DEFAULT_RULES_FILE),
      relative(ROOT, BUILTIN_TEMPLATES_FILE),
    ];
    for (const file of needed)
      expect(
        copied.some((c) => file === c || file.startsWith(`${c}/`)),
        file,
      ).toBe(true);
  });
});

describe('docker-compose.yml', () => {
  it('runs the service alone, with volumes for data, workspaces and the CLI config; PostgreSQL and Redis under a profile', () => {
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { build?: string; profiles?: string[]; volumes?: string[] }>;
    };
    const api = compose.services.api!;
    expect(api.build).toBe('.');
    expect(api.profiles).toBeUndefined();
    const mounted = (api.volumes ?? []).map((v) => v.split(':')[1]);
    for (const name of ['DATA_DIR', 'APPROVED_DIRECTORY', 'CLAUDE_CONFIG_DIR'])
      expect(mounted, name).toContain(envOf(name));
    for (const name of ['postgres', 'redis']) expect(compose.services[name]?.profiles, name).toContain('scale');
  });
});

describe('the image layout', () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cc-image-')));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('starts from what the runtime stage copies alone, answers its health check, and stops on SIGTERM', async () => {
    const app = join(dir, 'app');
    mkdirSync(app);
    for (const c of copies) {
      const target = join(app, relative(workdir, join(workdir, c.dest)));
      mkdirSync(dirname(target), { recursive: true });
      if (c.from === undefined) cpSync(join(ROOT, c.source), target, { recursive: true });
      else if (c.source.endsWith('/node_modules'))
        symlinkSync(join(ROOT, 'node_modules'), target); // the build stage's, as installed here
      else if (c.source.endsWith('/dist'))
        execFileSync(
          process.execPath,
          [
            join(ROOT, 'node_modules/typescript-7/bin/tsc'),
            '-p',
            join(ROOT, 'tsconfig.build.json'),
            '--outDir',
            target,
          ],
          { stdio: 'pipe' },
        );
      else throw new Error(`unexpected COPY from the build stage: ${c.source}`);
    }
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: join(dir, 'home'),
      CLAUDE_CONFIG_DIR: join(dir, 'home/.claude'),
      DATA_DIR: join(dir, 'data'),
      APPROVED_DIRECTORY: join(dir, 'workspaces'),
      HOST: '127.0.0.1',
      PORT: '0',
      NODE_ENV: 'production',
      API_KEYS: 'image-layout-key-1',
    };
    const child = spawn(process.execPath, ['dist/cli.js', 'serve'], {
      cwd: app,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const m = /listening on (http:\/\/[^"\s]+)/.exec(out);
        if (m) resolve(m[1]!);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((code) => reject(new Error(`exited ${code} before listening:\n${out}`)));
    });
    try {
      const ready = await fetch(`${url}/api/v1/health/ready`);
      expect(ready.status).toBe(200);
      expect((await ready.json()).data.checks).toMatchObject({ database: true, migrations: true, claude_cli: true });
      const check = /^HEALTHCHECK\b.*?\bCMD\s+(node\s+-e\s+"(.*)")\s*$/m.exec(runtime);
      expect(check).not.toBeNull();
      const script = check![2]!.replace(/\\"/g, '"');
      execFileSync(process.execPath, ['-e', script], { env: { ...env, PORT: new URL(url).port }, stdio: 'pipe' }); // throws on a non-zero exit
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
