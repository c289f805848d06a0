// The Docker image as the Dockerfile lays it out (no Docker engine needed): a non-root runtime stage with bubblewrap, a health check and volumes, holding all the server reads at run time; the server starts and stops from that layout.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('has a cluster profile: two nodes on PostgreSQL, Redis and the same shared volumes, each with its own id and URL', () => {
    type Service = { profiles?: string[]; volumes?: string[]; environment?: Record<string, string> };
    // Docker Compose reads `<<:` merge keys (the nodes share one definition).
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, Service>;
    };
    const nodes = ['node-a', 'node-b'].map((name) => compose.services[name]!);
    for (const node of nodes) {
      expect(node.profiles).toEqual(['cluster']);
      expect(node.environment).toMatchObject({ CLUSTER_ENABLED: 'true' });
      expect(node.environment!.DATABASE_URL).toMatch(/^postgres:\/\/.*@postgres:/);
      expect(node.environment!.REDIS_URL).toBe('redis://redis:6379');
      expect(node.environment!.API_KEYS).toMatch(/^\$\{API_KEYS:\?/);
    }
    expect(nodes[0]!.volumes).toEqual(nodes[1]!.volumes);
    const mounted = (nodes[0]!.volumes ?? []).map((v) => v.split(':')[1]);
    for (const name of ['DATA_DIR', 'APPROVED_DIRECTORY']) expect(mounted, name).toContain(envOf(name));
    expect(new Set(nodes.map((n) => n.environment!.NODE_ID)).size).toBe(2);
    expect(nodes.map((n) => n.environment!.NODE_URL)).toEqual(['http://node-a:8000', 'http://node-b:8000']);
    for (const name of ['postgres', 'redis']) expect(compose.services[name]?.profiles, name).toContain('cluster');
  });

  it("keeps Docker's default seccomp and AppArmor profiles and requires API_KEYS", () => {
    const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const compose = parse(text) as {
      services: Record<string, { security_opt?: string[]; privileged?: boolean; environment?: Record<string, string> }>;
    };
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.security_opt ?? [], name).toEqual([]);
      expect(service.privileged, name).toBeUndefined();
    }
    expect(compose.services.api!.environment!.API_KEYS).toMatch(/^\$\{API_KEYS:\?/);
  });
});

describe('the image layout', () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'cc-image-')));
  const app = join(dir, 'app');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(() => {
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
  }, 120_000);

  /** The environment of the image (paths moved into the scratch folder), plus `extra`. */
  const imageEnv = (extra: Record<string, string>) => ({
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(dir, 'home'),
    CLAUDE_CONFIG_DIR: join(dir, 'home/.claude'),
    DATA_DIR: join(dir, 'data'),
    APPROVED_DIRECTORY: join(dir, 'workspaces'),
    HOST: envOf('HOST')!,
    PORT: '0',
    NODE_ENV: 'production',
    ...extra,
  });

  /** `node dist/cli.js serve` in the layout; resolves once it says where it listens. */
  async function serve(env: Record<string, string>) {
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
    const listening = JSON.parse(out.split('\n').find((l) => /listening on http/.test(l))!) as { host: string };
    return { child, exited, url, host: listening.host, output: () => out };
  }

  /** This machine's first address beyond loopback, if it has one: whether the server answers there. */
  const outside = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
  async function answersOutside(url: string): Promise<boolean | undefined> {
    if (outside === undefined) return undefined;
    const port = new URL(url).port;
    return fetch(`http://${outside}:${port}/api/v1/health/live`).then(
      (r) => r.ok,
      () => false,
    );
  }

  it('starts from what the runtime stage copies alone, answers its health check, and stops on SIGTERM', async () => {
    const env = imageEnv({ HOST: '127.0.0.1', API_KEYS: 'image-layout-key-1' });
    const server = await serve(env);
    try {
      const ready = await fetch(`${server.url}/api/v1/health/ready`);
      expect(ready.status).toBe(200);
      expect((await ready.json()).data.checks).toMatchObject({ database: true, migrations: true, claude_cli: true });
      const check = /^HEALTHCHECK\b.*?\bCMD\s+(node\s+-e\s+"(.*)")\s*$/m.exec(runtime);
      expect(check).not.toBeNull();
      const script = check![2]!.replace(/\\"/g, '"');
      execFileSync(process.execPath, ['-e', script], {
        env: { ...env, PORT: new URL(server.url).port },
        stdio: 'pipe',
      }); // throws on a non-zero exit
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  }, 120_000);

  it("with the image's HOST=0.0.0.0 and no key, listens on loopback only and mints no key over HTTP", async () => {
    expect(envOf('HOST')).toBe('0.0.0.0');
    const server = await serve(imageEnv({}));
    try {
      expect(server.host).toBe('127.0.0.1');
      expect(await answersOutside(server.url)).not.toBe(true);
      expect(server.output()).toMatch(/Open mode .*listening on 127\.0\.0\.1 instead of HOST=0\.0\.0\.0/);
      const created = await fetch(`${server.url}/api/v1/keys`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'first', scope: 'admin' }),
      });
      expect(created.status).toBe(403);
      expect((await created.json()).type).toBe('/problems/open-mode');
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  }, 120_000);

  it('with OPEN_MODE_ALLOW_REMOTE=true listens on HOST, saying so as an error', async () => {
    const server = await serve(imageEnv({ OPEN_MODE_ALLOW_REMOTE: 'true' }));
    try {
      expect(server.host).toBe('0.0.0.0');
      expect(await answersOutside(server.url)).not.toBe(false);
      const line = server
        .output()
        .split('\n')
        .find((l) => l.includes('OPEN_MODE_ALLOW_REMOTE=true'));
      expect(line, server.output()).toBeDefined();
      expect(JSON.parse(line!)).toMatchObject({ level: 50 });
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  }, 120_000);
});
