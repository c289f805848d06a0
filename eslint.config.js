// Lint settings: typescript-eslint's strict type-aware rules over src, test, bench and the web console, the layer map of src/ as import boundaries, no import cycles, and nothing that fights Prettier.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import reactHooks from 'eslint-plugin-react-hooks';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/**
 * The layer map of src/ (docs/architecture.md shows it as a table, and test/docs.test.ts checks that table against
 * the rule built here). Each unit is a folder or a top-level file of src/; `may` lists what it may import (its own
 * files always): a whole unit, or one file of a unit (`approvals/rules.ts`) when only that file is meant; `never`
 * names the parts of an allowed unit it still may not import. Anything not listed is refused.
 */
const BASE = ['config', 'problems.ts', 'version.ts'];
const LAYERS = {
  'problems.ts': { may: [] },
  'version.ts': { may: [] },
  config: { may: ['problems.ts', 'version.ts', 'approvals/rules.ts'] },
  store: { may: BASE },
  workspace: { may: BASE },
  engine: { may: [...BASE, 'workspace'] },
  templates: { may: [...BASE, 'approvals/rules.ts', 'engine'] },
  usage: { may: [...BASE, 'security', 'store'] },
  security: { may: [...BASE, 'engine', 'store', 'templates', 'usage', 'workspace'] },
  approvals: { may: [...BASE, 'engine', 'security', 'store'] },
  sessions: { may: [...BASE, 'approvals', 'engine', 'security', 'store', 'templates', 'workspace'] },
  jobs: { may: [...BASE, 'approvals', 'engine', 'sessions', 'store'] },
  metrics: { may: [...BASE, 'engine', 'store'] },
  cluster: { may: [...BASE, 'engine'] },
  mcp: {
    may: [...BASE, 'engine', 'http', 'sessions', 'store', 'templates', 'workspace'],
    never: ['http/routes'],
  },
  http: {
    may: [
      ...BASE,
      'approvals',
      'cluster',
      'engine',
      'jobs',
      'mcp',
      'metrics',
      'security',
      'sessions',
      'store',
      'templates',
      'usage',
      'workspace',
    ],
  },
  'server.ts': {
    may: [
      ...BASE,
      'approvals',
      'cluster',
      'engine',
      'http',
      'jobs',
      'metrics',
      'security',
      'sessions',
      'store',
      'templates',
      'workspace',
    ],
  },
  commands: { may: [...BASE, 'engine', 'http', 'mcp', 'security', 'server.ts', 'store'] },
  'cli.ts': { may: [...BASE, 'commands'] },
};

/**
 * import-x/no-restricted-paths zones: for each unit, one zone with every other unit it may not import (and its
 * `never` parts), and one zone per unit it may import only some files of (that unit, except those files).
 */
function layerZones() {
  const units = Object.keys(LAYERS);
  const message = (unit, may) =>
    `src/${unit} may import only ${may.join(', ') || 'nothing of src'} (docs/architecture.md).`;
  const zones = Object.entries(LAYERS).flatMap(([unit, { may, never = [] }]) => {
    const partsOf = (other) =>
      may.filter((m) => m.startsWith(`${other}/`)).map((m) => `./${m.slice(other.length + 1)}`);
    const refused = units.filter((other) => other !== unit && !may.includes(other));
    const whole = refused.filter((other) => partsOf(other).length === 0);
    const partly = refused.filter((other) => partsOf(other).length > 0);
    return [
      { target: `./src/${unit}`, from: [...whole, ...never].map((u) => `./src/${u}`), message: message(unit, may) },
      ...partly.map((other) => ({
        target: `./src/${unit}`,
        from: `./src/${other}`,
        except: partsOf(other),
        message: message(unit, may),
      })),
    ];
  });
  return [
    ...zones.filter((zone) => zone.from.length > 0),
    { target: './src', from: ['./test', './bench'], message: 'src/ never imports tests or benchmarks.' },
    { target: './test', from: './bench', message: 'Tests never import benchmarks.' },
  ];
}

export default defineConfig(
  { ignores: ['dist/', 'coverage/', 'data/', 'workspaces/', 'node_modules/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // import-x reads the modules an import leads to (for no-cycle) only with a parser for their extension.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones() }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // Numbers print the same in every template; the rule is kept for what it is there for: objects, nullish, any.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `() => server.close()` says what it does; Prettier would turn each such shorthand into a block.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Off: Fastify plugins, hooks and handlers are async to use its promise API (a sync handler must call
      // reply.send, a sync plugin must call done), and an interface that asks for a Promise may be met without await.
      '@typescript-eslint/require-await': 'off',
      // Off: tsconfig has noUncheckedIndexedAccess, so every index read is `T | undefined`; a `!` marks one the code
      // has just checked (a regex group that matched, a split part, an entry found a line above).
      '@typescript-eslint/no-non-null-assertion': 'off',
      // A rest pattern is how a copy without some keys is made; the keys left out are meant to be unused.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // A closure may read a variable before its one assignment (a server's handler and the object built around it).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ['src/store/migrations/**'],
    rules: {
      // Kysely's documented migration signature is `Kysely<any>`: a migration must not depend on today's schema.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      // Off in tests and benchmarks: they read the JSON answers of the API and of the CLI as `any` and check their
      // shape with expect (a wrong shape fails the test), so these rules would only ask for casts.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-plus-operands': ['error', { allowAny: true }],
      // Off: teardown runs even when set-up failed, so `afterAll(() => app?.close())` on a `let app: App` is on purpose.
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
  {
    // The web console: browser code (Preact, DOM) with its own tsconfig (bundler resolution, JSX), held to the same
    // type-aware rules; the project service finds console/tsconfig.json for its files.
    files: ['console/**/*.{ts,tsx}'],
    settings: {
      'import-x/extensions': ['.ts', '.tsx', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './console/tsconfig.json' })],
    },
  },
  {
    files: ['console/src/**'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      // Preact's hooks follow React's rules: called unconditionally, with every value they read in their deps.
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
      // An event handler may be async: the DOM ignores what it returns, and the console's actions run through
      // useAction().run, which catches and shows the problem. Promises elsewhere are still checked.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      // It runs in a browser: Node's modules and globals do not exist there (the bundle would fail at run time).
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*'], message: 'The console runs in a browser.' }] },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', '__dirname', '__filename', 'global'].map((name) => ({
          name,
          message: 'The console runs in a browser: use the DOM and import.meta.env instead.',
        })),
      ],
    },
  },
  {
    files: ['**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  prettier,
);
