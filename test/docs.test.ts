// The documentation keeps up with the code: every setting, route and problem type is documented, the layer map is the lint rule, and the README's quick start stays two commands.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTINGS } from '../src/config/settings.js';
import { buildApp } from '../src/http/app.js';
import { statusProblem } from '../src/http/problem.js';
import { stubDeps } from './support/stub-deps.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const README = read('README.md');
const CONFIGURATION = read('docs/configuration.md');
const API = read('docs/api.md');
const ERRORS = read('docs/errors.md');
const ENV_EXAMPLE = read('.env.example');
const ARCHITECTURE = read('docs/architecture.md');

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

describe('docs/architecture.md', () => {
  /** One import-boundary zone: the files it covers, the paths they may not import, and the files of those they may. */
  interface Zone {
    target: string;
    from: string[];
    except: string[];
  }
  const unitPath = (cell: string) => `./${cell.replace(/\/$/, '')}`;

  /**
   * The zones the layer table says there are: each unit may import what its row lists and nothing else; a listed
   * file of another unit (`approvals/rules.ts`) leaves that unit refused except for the file.
   */
  function zonesOfTable(): Zone[] {
    const rows = ARCHITECTURE.split('\n')
      .map((line) => /^\| `((?:src|test|bench)\/[^`]*)` \|[^|]*\| ([^|]*) \|/.exec(line))
      .filter((m) => m !== null)
      .map(([, unit, may]) => {
        const allowed = [...may!.matchAll(/(not )?`([^`]+)`/g)];
        const scope = unit!.startsWith('src/') ? 'src/' : '';
        return {
          unit: unitPath(unit!),
          may: allowed.filter((a) => !a[1]).map((a) => unitPath(a[2]!.startsWith('src/') ? a[2]! : scope + a[2]!)),
          never: allowed.filter((a) => a[1]).map((a) => unitPath(scope + a[2]!)),
        };
      });
    const group = (inSrc: boolean) => rows.filter((r) => r.unit.startsWith('./src/') === inSrc).map((r) => r.unit);
    return rows.flatMap(({ unit, may, never }) => {
      const refused = group(unit.startsWith('./src/')).filter((other) => other !== unit && !may.includes(other));
      const partsOf = (other: string) =>
        may.filter((m) => m.startsWith(`${other}/`)).map((m) => `.${m.slice(other.length)}`);
      return [
        { target: unit, from: [...refused.filter((o) => partsOf(o).length === 0), ...never].sort(), except: [] },
        ...refused
          .filter((o) => partsOf(o).length > 0)
          .map((o) => ({ target: unit, from: [o], except: partsOf(o).sort() })),
      ];
    });
  }

  async function zonesOfLintRule(): Promise<Zone[]> {
    const config = (await new ESLint({ cwd: root }).calculateConfigForFile(join(root, 'src/server.ts'))) as unknown as {
      rules: Record<string, [unknown, { zones: { target: string; from: string | string[]; except?: string[] }[] }]>;
    };
    return config.rules['import-x/no-restricted-paths']![1].zones.map((zone) => ({
      target: zone.target,
      from: [zone.from].flat().sort(),
      except: [...(zone.except ?? [])].sort(),
    }));
  }

  it('has a row for every folder and top-level file of src/', () => {
    const units = readdirSync(join(root, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory() || e.name.endsWith('.ts'))
      .map((e) => `src/${e.name}${e.isDirectory() ? '/' : ''}`);
    const missing = units.filter((unit) => !ARCHITECTURE.includes(`| \`${unit}\` |`));
    expect(missing, 'src/ units without a row in docs/architecture.md').toEqual([]);
  });

  it('says exactly what the lint rule enforces', async () => {
    const table = zonesOfTable().filter((zone) => zone.from.length > 0);
    expect(table.length).toBeGreaterThan(10);
    const rule = await zonesOfLintRule();
    const bySrc = rule.find((zone) => zone.target === './src');
    expect(bySrc?.from, 'src/ may not import tests or benchmarks').toEqual(['./bench', './test']);
    expect(table.some((zone) => zone.except.length > 0)).toBe(true);
    expect(rule.filter((zone) => zone !== bySrc)).toEqual(expect.arrayContaining(table));
    expect(table).toEqual(expect.arrayContaining(rule.filter((zone) => zone !== bySrc)));
  });
});

describe('README.md', () => {
  it('has the two quick-start commands', () => {
    expect(README).toContain('npm ci && npm start');
    expect(README).toContain('npm ci && npm test');
  });

  it('points at docs/architecture.md for the layer map', () => {
    expect(README).toMatch(/## Architecture\n[^#]*\(docs\/architecture\.md\)/);
  });

  it('links every document under docs/', () => {
    for (const doc of readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md'))) {
      expect(README, `README.md does not link docs/${doc}`).toContain(`(docs/${doc})`);
    }
  });
});
