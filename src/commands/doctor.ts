// `doctor`: checks configuration, Claude Code, its credentials, the sandbox tools, the database and the folders, and says how to fix each.
import { accessSync, constants } from 'node:fs';
import { access, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { Migrator } from 'kysely';
import { pino } from 'pino';
import { loadConfig, loadDotenvFile, type Config } from '../config/index.js';
import { cliEnvironment } from '../engine/cli-env.js';
import { bundledCliPath, probeCli, type CliInfo } from '../engine/cli-info.js';
import { Wall } from '../engine/wall/index.js';
import { createStore } from '../store/index.js';
import { buildMigrations } from '../store/migrations/index.js';
import { VERSION } from '../version.js';
import type { Command } from './types.js';

type Verdict = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
  fix?: string;
}

const MARK: Record<Verdict, string> = { ok: '✓', warn: '!', fail: '✗' };

function onPath(binary: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** A folder that exists and is writable, or whose nearest existing parent is writable (it will be created). */
async function folderCheck(name: string, path: string): Promise<Check> {
  let probe = path;
  for (;;) {
    try {
      const s = await stat(probe);
      if (!s.isDirectory())
        return { name, verdict: 'fail', detail: `${probe} is not a folder`, fix: `point ${name} at a folder` };
      await access(probe, constants.W_OK);
      return { name, verdict: 'ok', detail: probe === path ? path : `${path} (will be created)` };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dirname(probe) !== probe) {
        probe = dirname(probe);
        continue;
      }
      return {
        name,
        verdict: 'fail',
        detail: `${probe} is not writable (${code ?? 'error'})`,
        fix: `make ${probe} writable for this user, or set ${name} to another folder`,
      };
    }
  }
}

/** Builds the wall as the server would (a throwaway probe of bubblewrap with every namespace and limit). */
async function wallCheck(config: Config, cli: CliInfo, env: Record<string, string | undefined>): Promise<Check> {
  const socketDir = await mkdtemp(join(tmpdir(), 'cca-doctor-'));
  const wall = await Wall.start({
    settings: config.security.wall,
    cliPath: cli.ok ? cli.path : undefined,
    cliEnv: env,
    auth: cli.auth,
    socketDir,
    log: pino({ level: 'silent' }),
  });
  await wall.close();
  await rm(socketDir, { recursive: true, force: true });
  const { status } = wall;
  if (status.available)
    return { name: 'Wall', verdict: 'ok', detail: 'every session runs inside its own bubblewrap wall' };
  const tenants = config.apiKeys.length;
  const refused = tenants > 1 && !config.security.wall.unconfinedTenants;
  return {
    name: 'Wall',
    verdict: refused ? 'fail' : 'warn',
    detail: `${status.reason ?? 'unavailable'}: sessions run with the Bash sandbox only${refused ? `, and with ${tenants} API keys the server will not start` : ''}`,
    fix: status.enabled
      ? 'see docs/deployment.md (bubblewrap installed, user namespaces allowed); with several tenants, WALL_UNCONFINED_TENANTS=true accepts the risk'
      : 'set WALL_ENABLED=true',
  };
}

export async function runChecks(config: Config): Promise<Check[]> {
  const checks: Check[] = [];
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  checks.push(
    major > 20 || (major === 20 && minor >= 19)
      ? { name: 'Node.js', verdict: 'ok', detail: process.versions.node }
      : { name: 'Node.js', verdict: 'fail', detail: process.versions.node, fix: 'install Node.js 20.19 or newer' },
  );

  const env = cliEnvironment(process.env, {
    secretNames: config.secretNames,
    configDir: config.claude.configDir,
    clientApp: `claude-code-api/${VERSION}`,
  });
  const cli = await probeCli(config.claude.cliPath ?? bundledCliPath(), env, config.claude.configDir);
  checks.push(
    cli.ok
      ? { name: 'Claude Code CLI', verdict: 'ok', detail: `${cli.version} at ${cli.path}` }
      : {
          name: 'Claude Code CLI',
          verdict: 'fail',
          detail: cli.error ?? 'does not start',
          fix: 'run `npm ci` (the CLI ships with @anthropic-ai/claude-agent-sdk) or set CLAUDE_CLI_PATH to an installed `claude`',
        },
  );
  if (cli.auth === 'none') {
    checks.push({
      name: 'Claude credentials',
      verdict: 'fail',
      detail: 'none found',
      fix: "set ANTHROPIC_API_KEY (or the Bedrock / Vertex variables); a personal `claude` login is for its owner's own use only",
    });
  } else if ((cli.auth === 'subscription_login' || cli.auth === 'oauth_token') && config.apiKeys.length > 1) {
    checks.push({
      name: 'Claude credentials',
      verdict: 'warn',
      detail: `${cli.auth} shared by ${config.apiKeys.length} API keys`,
      fix: "Anthropic's terms reserve subscription logins for their owner: use an API key, Bedrock or Vertex for a shared service",
    });
  } else {
    checks.push({ name: 'Claude credentials', verdict: 'ok', detail: cli.auth });
  }

  const missing = ['bwrap', 'socat'].filter((b) => !onPath(b));
  checks.push(
    missing.length === 0
      ? { name: 'Sandbox tools', verdict: 'ok', detail: 'bubblewrap and socat found' }
      : {
          name: 'Sandbox tools',
          verdict: 'warn',
          detail: `${missing.join(', ')} not on PATH: Claude Code cannot sandbox Bash`,
          fix: 'install them, e.g. `apt-get install bubblewrap socat`',
        },
  );

  checks.push(await wallCheck(config, cli, env));

  checks.push(await folderCheck('DATA_DIR', config.dataDir));
  checks.push(await folderCheck('APPROVED_DIRECTORY', config.approvedDirectory));

  try {
    const store = await createStore(config.databaseUrl);
    try {
      if (!(await store.ping())) throw new Error('the database does not answer');
      const migrator = new Migrator({
        db: store.db,
        provider: { getMigrations: async () => buildMigrations(store.dialect) },
      });
      const pending = (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).length;
      checks.push({
        name: 'Database',
        verdict: 'ok',
        detail: `${store.dialect}${pending > 0 ? `, ${pending} migration(s) pending (applied at start-up, or run \`claude-code-api migrate\`)` : ', up to date'}`,
      });
    } finally {
      await store.close();
    }
  } catch (err) {
    checks.push({
      name: 'Database',
      verdict: 'fail',
      detail: (err as Error).message.split('\n')[0] ?? 'unreachable',
      fix: 'check DATABASE_URL and that the database server runs',
    });
  }

  if (config.apiKeys.length === 0) {
    checks.push({
      name: 'API keys',
      verdict: 'warn',
      detail: 'open mode: no API_KEYS set',
      fix: 'set API_KEYS before exposing the server beyond this machine',
    });
  } else {
    checks.push({ name: 'API keys', verdict: 'ok', detail: `${config.apiKeys.length} configured` });
  }
  // The start-up warnings (seed settings not used here, short keys …): a check each, so none goes unseen.
  for (const warning of config.warnings) {
    checks.push({
      name: 'Configuration',
      verdict: 'warn',
      detail: warning,
      fix: 'see docs/configuration.md (docs/migrating.md for the Python seed settings)',
    });
  }
  return checks;
}

export const doctor: Command = {
  summary: 'check the CLI, its credentials, the sandbox, the database and the folders, and say how to fix each',
  async run() {
    loadDotenvFile();
    const checks = await runChecks(loadConfig());
    for (const c of checks) {
      console.log(`${MARK[c.verdict]} ${c.name}: ${c.detail}`);
      if (c.fix && c.verdict !== 'ok') console.log(`    fix: ${c.fix}`);
    }
    return checks.some((c) => c.verdict === 'fail') ? 1 : 0;
  },
};
