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

/** The Python seed's prompts, with its names and arguments (and our own wording). */
export const SEED_PROMPTS = ['code_review', 'refactor', 'write_tests', 'debug'] as const;

export function registerSeedPrompts(server: McpServer): void {
  server.registerPrompt(
    'code_review',
    {
      title: 'Review code',
      description: 'Review code for defects, security problems and maintainability.',
      argsSchema: {
        code: z.string().describe('The code to review.'),
        language: z.string().optional().describe('Its language (default python).'),
      },
    },
    ({ code, language }) => {
      const lang = language || 'python';
      return userText(
        `Review this ${lang} code. List defects, security problems, slow spots and unclear parts, most important first, each with a concrete fix.\n\n${fenced(code, lang)}`,
      );
    },
  );
  server.registerPrompt(
    'refactor',
    {
      title: 'Refactor code',
      description: 'Restructure code towards a goal without changing its behaviour.',
      argsSchema: {
        code: z.string().describe('The code to refactor.'),
        goal: z.string().optional().describe('What to improve (default: readability).'),
      },
    },
    ({ code, goal }) =>
      userText(
        `Refactor this code to ${goal || 'improve readability'}. Its behaviour must stay exactly the same.\n\n${fenced(code)}`,
      ),
  );
  server.registerPrompt(
    'write_tests',
    {
      title: 'Write tests',
      description: 'Write tests for code: normal paths, edges and failures.',
      argsSchema: {
        code: z.string().describe('The code to test.'),
        framework: z.string().optional().describe('The test framework (default pytest).'),
      },
    },
    ({ code, framework }) =>
      userText(
        `Write ${framework || 'pytest'} tests for this code, covering the normal paths, the edge cases and the failures.\n\n${fenced(code)}`,
      ),
  );
  server.registerPrompt(
    'debug',
    {
      title: 'Debug an error',
      description: 'Find the cause of an error and propose a fix.',
      argsSchema: {
        error: z.string().describe('The error message or traceback.'),
        context: z.string().optional().describe('What was going on when it happened.'),
      },
    },
    ({ error, context }) =>
      userText(
        `Find the root cause of this error and propose a fix.\n\n${fenced(error)}${context ? `\n\nWhat was going on: ${context}` : ''}`,
      ),
  );
}

/**
 * One prompt per template, asking the client's model to start a session from it and hand it a task. A template
 * named like one of the seed's prompts (refactor, debug) gets none: the seed's prompt keeps its name.
 */
export function registerTemplatePrompts(server: McpServer, list: Template[]): Array<{ remove(): void }> {
  return list
    .filter((t) => !(SEED_PROMPTS as readonly string[]).includes(t.name))
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
