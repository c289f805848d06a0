#!/usr/bin/env node
// The claude-code-api command: dispatches to the subcommands in src/commands (serve is the default).
import { ConfigError } from './config/index.js';
import { doctor } from './commands/doctor.js';
import { keys } from './commands/keys.js';
import { mcp } from './commands/mcp.js';
import { migrate } from './commands/migrate.js';
import { serve } from './commands/serve.js';
import type { Command } from './commands/types.js';
import { VERSION } from './version.js';

const COMMANDS: Record<string, Command> = {
  serve,
  migrate,
  doctor,
  keys,
  mcp,
};

function usage(): string {
  const width = Math.max(
    ...Object.entries(COMMANDS).map(([name, c]) => `${name} ${c.args ?? ''}`.trim().length),
    'version'.length,
  );
  const lines = Object.entries(COMMANDS).map(
    ([name, c]) => `  ${`${name} ${c.args ?? ''}`.trim().padEnd(width)}  ${c.summary}`,
  );
  lines.push(`  ${'version'.padEnd(width)}  print the version`);
  return `claude-code-api ${VERSION}\n\nUsage: claude-code-api [command]\n\nCommands:\n${lines.join('\n')}\n\nSettings come from the environment and an optional .env file; see docs/configuration.md.`;
}

async function main(argv: string[]): Promise<number> {
  const name = argv[0] ?? 'serve';
  if (name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  if (name === 'version' || name === '--version') {
    console.log(VERSION);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  return command.run(argv.slice(1));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) console.error(err.message);
    else console.error(`claude-code-api failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
