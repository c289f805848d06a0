// The session tools: create_session, list_sessions, get_session, delete_session and get_history (the Python seed's names and arguments, and ours).
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { pageOf, paginationOf } from '../../http/envelope.js';
import { historyView } from '../../http/views.js';
import {
  data,
  guardedBy,
  optionShape,
  orBlank,
  page,
  sessionName,
  withoutBlanks,
  type McpCaller,
  type SessionView,
} from '../shared.js';

/** The fields the Python seed's get_session answered, at the top beside our `session`. */
function seedFields(v: SessionView) {
  const { name, status, working_dir, system_prompt, model, effort, total_cost, total_turns } = v;
  return { name, status, working_dir, system_prompt, model, effort, total_cost, total_turns };
}

export function registerSessionTools(server: McpServer, { ctx, tenant, view }: McpCaller): void {
  const { sessions, log } = ctx;
  const guarded = guardedBy(log, tenant);

  server.registerTool(
    'create_session',
    {
      title: 'Create a session',
      description:
        'Creates a named Claude Code session with its own workspace folder. `template` applies an agent profile (see the templates resource); explicit options win over it. An empty string means "not set".',
      inputSchema: {
        name: sessionName,
        template: orBlank(z.string().min(1).max(64)).describe('Agent template name, e.g. code-reviewer.'),
        working_dir: z
          .string()
          .min(1)
          .max(4096)
          .optional()
          .describe('Folder inside APPROVED_DIRECTORY to run in (default: its own workspace).'),
        ...optionShape,
      },
      annotations: { destructiveHint: false, idempotentHint: false },
    },
    guarded(async (args) => {
      const session = view(await sessions.create(tenant, withoutBlanks(args)));
      return data({ ...seedFields(session), session });
    }),
  );

  server.registerTool(
    'list_sessions',
    {
      title: 'List sessions',
      description: "The caller's sessions, newest first.",
      inputSchema: page,
      annotations: { readOnlyHint: true },
    },
    guarded(async (args) => {
      const p = pageOf(args);
      const result = await sessions.list(tenant, p.offset, p.limit);
      return data({ sessions: result.items.map(view), pagination: paginationOf(p, result.total) });
    }),
  );

  server.registerTool(
    'get_session',
    {
      title: 'Get a session',
      description: 'One session: options, template, totals, whether it is live or busy.',
      inputSchema: { name: sessionName },
      annotations: { readOnlyHint: true },
    },
    guarded(async ({ name }) => {
      const session = view(await sessions.get(tenant, name));
      return data({ ...seedFields(session), session });
    }),
  );

  server.registerTool(
    'delete_session',
    {
      title: 'Delete a session',
      description:
        'Interrupts its turn if one runs, stops its process and deletes its history. `purge` also deletes its workspace folder.',
      inputSchema: {
        name: sessionName,
        purge: z.boolean().optional().describe('Also delete the workspace folder (default false).'),
      },
      annotations: { destructiveHint: true, idempotentHint: false },
    },
    guarded(async ({ name, purge }) => {
      await sessions.remove(tenant, name, purge ?? false);
      return data({ deleted: name });
    }),
  );

  server.registerTool(
    'get_history',
    {
      title: 'Session history',
      description: 'The stored messages of a session, oldest first (`limit` per page, 20 by default).',
      inputSchema: { name: sessionName, ...page },
      annotations: { readOnlyHint: true },
    },
    guarded(async ({ name, ...args }) => {
      const p = pageOf(args);
      const result = await sessions.history(tenant, name, p.offset, p.limit);
      return data({ messages: result.items.map(historyView), pagination: paginationOf(p, result.total) });
    }),
  );
}
