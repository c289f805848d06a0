// The MCP prompts: the Python seed's code_review, refactor, write_tests and debug, and one per template (unless a seed prompt has its name).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { GetPromptResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Template } from '../templates/registry.js';

const userText = (text: string, description?: string): GetPromptResult => ({
  description,
  messages: [{ role: 'user', content: { type: 'text', text } }],
});

const fenced = (code: string, language = '') => `\`\`\`${language}\n${code}\n\`\`\``;

/** The Python seed's prompts, with its names and arguments (one required, one optional), in our own wording. */
const SEED_PROMPT_LIST = [
  {
    name: 'code_review',
    description: 'Review code for defects, security problems and maintainability.',
    required: 'code',
    optional: 'language',
  },
  {
    name: 'refactor',
    description: 'Restructure code towards a goal without changing its behaviour.',
    required: 'code',
    optional: 'goal',
  },
  {
    name: 'write_tests',
    description: 'Write tests for code: normal paths, edges and failures.',
    required: 'code',
    optional: 'framework',
  },
  {
    name: 'debug',
    description: 'Find the cause of an error and propose a fix.',
    required: 'error',
    optional: 'context',
  },
] as const;

const ARGUMENTS: Record<string, string> = {
  code: 'The code.',
  language: 'Its language (default python).',
  goal: 'What to improve (default: readability).',
  framework: 'The test framework (default pytest).',
  error: 'The error message or traceback.',
  context: 'What was going on when it happened.',
};

/** What each seed prompt asks for, from its required and optional argument. */
const TEXTS: Record<(typeof SEED_PROMPT_LIST)[number]['name'], (a: string, b?: string) => string> = {
  code_review: (code, language = 'python') =>
    `Review this ${language} code. List defects, security problems, slow spots and unclear parts, most important first, each with a concrete fix.\n\n${fenced(code, language)}`,
  refactor: (code, goal = 'improve readability') =>
    `Refactor this code to ${goal}. Its behaviour must stay exactly the same.\n\n${fenced(code)}`,
  write_tests: (code, framework = 'pytest') =>
    `Write ${framework} tests for this code, covering the normal paths, the edge cases and the failures.\n\n${fenced(code)}`,
  debug: (error, context) =>
    `Find the root cause of this error and propose a fix.\n\n${fenced(error)}${context ? `\n\nWhat was going on: ${context}` : ''}`,
};

const SEED_PROMPTS = new Set<string>(SEED_PROMPT_LIST.map((p) => p.name));

export function registerSeedPrompts(server: McpServer): void {
  for (const { name, description, required, optional } of SEED_PROMPT_LIST) {
    const argsSchema = {
      [required]: z.string().describe(ARGUMENTS[required]!),
      [optional]: z.string().optional().describe(ARGUMENTS[optional]!),
    };
    server.registerPrompt(name, { title: name, description, argsSchema }, (args: Record<string, string | undefined>) =>
      userText(TEXTS[name](args[required] ?? '', args[optional] || undefined)),
    );
  }
}

/**
 * One prompt per template, asking the client's model to start a session from it and hand it a task. A template
 * named like one of the seed's prompts (refactor, debug) gets none: the seed's prompt keeps its name.
 */
export function registerTemplatePrompts(server: McpServer, list: Template[]): Array<{ remove(): void }> {
  return list
    .filter((t) => !SEED_PROMPTS.has(t.name))
    .map((t) =>
      server.registerPrompt(
        t.name,
        {
          title: `Claude Code: ${t.name}`,
          description: t.profile.description ?? `Start a Claude Code session from the ${t.name} template.`,
          argsSchema: {
            task: z.string().describe('What the session should do.'),
            session: z.string().optional().describe(`Session name (default: ${t.name}).`),
          },
        },
        ({ task, session }) =>
          userText(
            `Use the claude-code-api tools. Create a session named ${JSON.stringify(session ?? t.name)} with template ${JSON.stringify(t.name)} ` +
              `(create_session; if it already exists, reuse it), then send it this task with chat and report its answer:\n\n${task}`,
            t.profile.description,
          ),
      ),
    );
}
