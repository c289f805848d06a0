// The documentation keeps up with the code: every setting, route and problem type is documented, and the README's quick start stays two commands.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../src/config/settings.js';
import { buildApp } from '../src/http/app.js';
import { statusProblem } from '../src/http/problem.js';
import { stubDeps } from './http/stub-deps.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const README = read('README.md');
const CONFIGURATION = read('docs/configuration.md');
const API = read('docs/api.md');
const ERRORS = read('docs/errors.md');
const ENV_EXAMPLE = read('.env.example');

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('docs/configuration.md and .env.example', () => {
  it.each(SETTINGS.map((s) => [s.name, s] as const))('document %s with its default', (name, spec) => {
    const row = CONFIGURATION.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
    expect(row, `docs/configuration.md has no table row for ${name}`).toBeDefined();
    if (spec.default !== undefined && spec.default !== '') expect(row).toContain(`\`${spec.default}\``);

    const line = new RegExp(`^# ${escape(name)}=(.*)$`, 'm').exec(ENV_EXAMPLE);
    expect(line, `.env.example has no commented-out line "# ${name}=…"`).not.toBeNull();
    expect(line![1]).toBe(spec.default ?? '');
  });
});

describe('docs/api.md', () => {
  let app: FastifyInstance;
  let routes: string[];

  beforeAll(async () => {
    app = await buildApp(stubDeps({ apiKeys: ['docs-test-key-0001'] }), { logger: false });
    await app.ready();
    const paths = (app.swagger() as { paths: Record<string, Record<string, unknown>> }).paths;
    routes = Object.entries(paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
  });
  afterAll(() => app?.close());

  it('finds the routes through the OpenAPI document', () => {
    expect(routes).toContain('POST /api/v1/sessions');
  });

  it('documents every route with its method and path', () => {
    const missing = routes.filter((route) => !API.includes(route));
    expect(missing, 'routes without a "METHOD /path" entry in docs/api.md').toEqual([]);
  });

  it('points at the OpenAPI document and Swagger UI', () => {
    expect(API).toContain('/openapi.json');
    expect(API).toContain('/docs');
  });
});

describe('docs/errors.md', () => {
  /** Problem type slugs named in the source: status fallbacks, ProblemError / HttpProblem slugs and engine error kinds. */
  function slugsInCode(): string[] {
    const slugs = new Set<string>();
    for (let status = 400; status < 600; status++) slugs.add(statusProblem(status).slug);
    const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) =>
      f.endsWith('.ts'),
    );
    for (const file of files) {
      const text = read(join('src', file));
      for (const m of text.matchAll(/new ProblemError\(\s*\d{3},\s*'([a-z][a-z-]*)'/g)) slugs.add(m[1]!);
      for (const m of text.matchAll(/problemType\(\s*'([a-z][a-z-]*)',?\s*\)/g)) slugs.add(m[1]!);
      for (const m of text.matchAll(/\bslug: '([a-z][a-z-]*)'/g)) slugs.add(m[1]!);
      for (const m of text.matchAll(/\b(?:unauthorized|badRequest|conflict)\([^;]*?,\s*'([a-z][a-z-]*)',?\s*\)/g))
        slugs.add(m[1]!);
    }
    const kinds = /export type EngineErrorKind =([^;]+);/.exec(read('src/engine/errors.ts'))?.[1] ?? '';
    for (const m of kinds.matchAll(/'([a-z_]+)'/g)) slugs.add(m[1]!.replace(/_/g, '-'));
    return [...slugs].sort();
  }

  it('lists every problem type the code can produce', () => {
    const slugs = slugsInCode();
    expect(slugs).toEqual(
      expect.arrayContaining(['not-found', 'validation-failed', 'timeout', 'missing-api-key', 'replay-unavailable']),
    );
    const missing = slugs.filter((slug) => !ERRORS.includes(`| \`/problems/${slug}\` |`));
    expect(missing, 'problem types without a row in docs/errors.md').toEqual([]);
  });
});

describe('README.md', () => {
  it('has the two quick-start commands', () => {
    expect(README).toContain('npm ci && npm start');
    expect(README).toContain('npm ci && npm test');
  });

  it('links every document under docs/', () => {
    for (const doc of readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'))) {
      expect(README, `README.md does not link docs/${doc}`).toContain(`(docs/${doc})`);
    }
  });
});
