// The loaded agent templates: the shipped file, then TEMPLATES_PATH files overriding by name; reloads keep the old set on failure.
import { EventEmitter } from 'node:events';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { parseTemplateFile, TemplateFileError } from './parse.js';
import { applyOperatorLimits } from './operator-limits.js';
import type { TemplateProfile } from './schema.js';
import { watchFiles, type FileWatch } from './watch.js';

/** The templates file shipped with the service (project root; the same path from src/ under tsx and from dist/). */
export const BUILTIN_TEMPLATES_FILE = fileURLToPath(new URL('../../templates/default.yaml', import.meta.url));

export interface Template {
  name: string;
  /** `builtin` (the shipped file) or `user` (a TEMPLATES_PATH file). */
  source: 'builtin' | 'user';
  /** The profile as it applies: tools already narrowed to the operator's. */
  profile: TemplateProfile;
  /** What the operator's limits changed or refuse (see applyOperatorLimits). */
  warnings: string[];
}

export interface TemplateRegistryOptions {
  claude: Config['claude'];
  log: Logger;
  /** A YAML file or a folder of `*.yaml` / `*.yml` files (TEMPLATES_PATH). */
  userPath?: string;
  builtinFile?: string;
  /** Quiet time after the last file change before a reload. */
  debounceMs?: number;
}

const YAML_FILE = /\.ya?ml$/i;

/**
 * Events: `reloaded` (templates: Template[]) after a successful reload, `reload-failed` (TemplateFileError) when a
 * change was refused and the previous set stays.
 */
export class TemplateRegistry extends EventEmitter {
  private templates = new Map<string, Template>();
  private pending: Promise<unknown> = Promise.resolve();
  private watcher: FileWatch | undefined;
  private readonly builtinFile: string;

  private constructor(private readonly opts: TemplateRegistryOptions) {
    super();
    this.builtinFile = opts.builtinFile ?? BUILTIN_TEMPLATES_FILE;
  }

  /** Loads every file; throws TemplateFileError (naming the file and line) when one is invalid. */
  static async open(opts: TemplateRegistryOptions): Promise<TemplateRegistry> {
    const registry = new TemplateRegistry(opts);
    await registry.reload();
    return registry;
  }

  list(): Template[] {
    return [...this.templates.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): Template | undefined {
    return this.templates.get(name);
  }

  /** Reads all files again and swaps the set in only if every file is valid; otherwise throws and keeps the old set. */
  reload(): Promise<Template[]> {
    const next = this.pending.then(() => this.load());
    this.pending = next.catch(() => undefined);
    return next;
  }

  /** Reloads (debounced) whenever a TEMPLATES_PATH file changes; failures are logged and the old set stays. */
  watch(): void {
    if (this.watcher || !this.opts.userPath) return;
    this.watcher = watchFiles(
      this.opts.userPath,
      YAML_FILE,
      this.opts.debounceMs ?? 200,
      () => {
        this.reload().then(
          (list) => this.opts.log.info({ templates: list.length }, 'templates reloaded after a file change'),
          (err: unknown) =>
            this.opts.log.error(
              { err: err instanceof Error ? err.message : String(err) },
              'templates file change refused; the previous templates stay',
            ),
        );
      },
      (err) => this.opts.log.warn({ err: err.message }, 'watching TEMPLATES_PATH failed'),
    );
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async load(): Promise<Template[]> {
    try {
      const next = new Map<string, Template>();
      const add = (file: string, source: Template['source'], text: string) => {
        for (const [name, raw] of parseTemplateFile(text, source === 'builtin' ? basename(file) : file)) {
          const { profile, warnings } = applyOperatorLimits(raw, this.opts.claude);
          next.set(name, { name, source, profile, warnings });
        }
      };
      add(this.builtinFile, 'builtin', await readText(this.builtinFile));
      for (const file of await userFiles(this.opts.userPath)) add(file, 'user', await readText(file));
      this.templates = next;
      const list = this.list();
      for (const t of list)
        for (const w of t.warnings) this.opts.log.warn({ template: t.name }, `template ${t.name}: ${w}`);
      this.emit('reloaded', list);
      return list;
    } catch (err) {
      if (err instanceof TemplateFileError) this.emit('reload-failed', err);
      throw err;
    }
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new TemplateFileError([
      {
        file,
        line: 1,
        column: 1,
        path: '',
        message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      },
    ]);
  }
}

/** The user's files: TEMPLATES_PATH itself, or the YAML files of that folder in name order. */
async function userFiles(path: string | undefined): Promise<string[]> {
  if (!path) return [];
  const info = await stat(path).catch((caught: unknown) => {
    const err = caught as NodeJS.ErrnoException;
    throw new TemplateFileError([
      {
        file: path,
        line: 1,
        column: 1,
        path: '',
        message: `TEMPLATES_PATH cannot be read (${err.code ?? err.message})`,
      },
    ]);
  });
  if (!info.isDirectory()) return [path];
  const names = (await readdir(path)).filter((n) => YAML_FILE.test(n) && !n.startsWith('.')).sort();
  return names.map((n) => join(path, n));
}

/** What the session rules need of the templates. */
export type TemplateLookup = Pick<TemplateRegistry, 'get'>;
