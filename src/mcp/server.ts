// The MCP server of one caller (tenant): sessions as tools, sessions and templates as resources, one prompt per template.
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type {
  CallToolResult,
  GetPromptResult,
  ReadResourceResult,
  ServerNotification,
  ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../config/index.js';
import { EFFORT_LEVELS, PERMISSION_MODES } from '../config/settings.js';
import { EngineError } from '../engine/errors.js';
import { isPersonEvent } from '../engine/events.js';
import type { Turn } from '../engine/turn.js';
import { pageOf, paginationOf } from '../http/envelope.js';
import { workspaceProblem } from '../http/routes/files.js';
import { SESSION_NAME_PATTERN } from '../http/schemas/sessions.js';
import { historyView, sessionView, templateView } from '../http/views.js';
import { ProblemError, type ProblemDoc } from '../problems.js';
import type { ChatCaller, SessionService } from '../sessions/service.js';
import type { SessionRow } from '../store/schema.js';
import type { Template, TemplateRegistry } from '../templates/registry.js';
import { WorkspaceError } from '../workspace/errors.js';
import { listFiles, openFile, type OpenWorkspace } from '../workspace/files.js';

export interface McpContext {
  config: Config;
  sessions: SessionService;
  templates: TemplateRegistry;
  log: Pick<Logger, 'error' | 'warn' | 'info'>;
  version: string;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export const RESOURCE_ROOT = 'claude-code-api://';
/** Most bytes `read_file` returns; larger files are cut there (and say so). */
export const READ_FILE_MAX_BYTES = 1024 * 1024;
/** Most items a resource list holds. */
const RESOURCE_LIST_LIMIT = 100;

const sessionName = z
  .string()
  .regex(new RegExp(SESSION_NAME_PATTERN))
  .describe('Session name: letters, digits, dot, dash, underscore; 1–64 characters.');
const toolList = (what: string) =>
  z
    .array(
      z
        .string()
        .min(1)
        .max(200)
        .regex(/^[A-Za-z0-9_:*()./ -]+$/),
    )
    .max(100)
    .describe(what);
const optionShape = {
  system_prompt: z.string().max(100_000).optional().describe("Text appended to Claude Code's own system prompt."),
  model: z.string().min(1).max(200).optional().describe('Model name or alias.'),
  effort: z.enum(EFFORT_LEVELS).optional().describe('Effort level.'),
  max_turns: z.number().int().min(1).max(1000).optional().describe('Most agentic turns per chat request.'),
  allowed_tools: toolList("Tools Claude may use: a subset of the operator's.").optional(),
  disallowed_tools: toolList('Tools removed.').optional(),
  permission_mode: z.enum(PERMISSION_MODES).optional().describe('One of the modes the operator allows.'),
};
const page = {
  page: z.number().int().min(1).optional().describe('Page number, from 1 (default 1).'),
  limit: z.number().int().min(1).max(100).optional().describe('Items per page, 1–100 (default 20).'),
};

function data(value: Record<string, unknown>, text = JSON.stringify(value, null, 2)): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: value };
}

/**
 * Builds the MCP server that acts as `tenant`: every call goes through the session rules with that tenant.
 * `caller` is who asks for turns (the HTTP request's key budget and audit identity). `followReloads` (long-lived
 * servers: stdio) swaps the prompts whenever the templates reload.
 */
export function createMcpServer(
  ctx: McpContext,
  tenant: string,
  opts: { followReloads?: boolean; caller?: ChatCaller } = {},
): McpServer {
  const { sessions, templates, config, log } = ctx;
  const server = new McpServer(
    { name: 'claude-code-api', version: ctx.version },
    {
      // Logging notifications carry the approvals and questions a chat turn waits for.
      capabilities: { logging: {} },
      instructions:
        'Named Claude Code sessions, each with its own workspace folder. create_session (optionally from a template), then chat with it; list_files / read_file show what it wrote.',
    },
  );
  const view = (row: SessionRow) => sessionView(row, sessions.liveness(row.id));

  /** Runs a tool; a refused or failed call answers `isError` with the problem document, never a stack. */
  const guarded =
    <A>(fn: (args: A, extra: Extra) => Promise<CallToolResult>) =>
    async (args: A, extra: Extra): Promise<CallToolResult> => {
      try {
        return await fn(args, extra);
      } catch (err) {
        const problem = problemOf(err);
        if (problem.status >= 500 && !(err instanceof EngineError)) log.error({ err, tenant }, 'MCP tool failed');
        return {
          isError: true,
          content: [{ type: 'text', text: `${problem.title}: ${problem.detail}` }],
          structuredContent: { problem },
        };
      }
    };

  server.registerTool(
    'create_session',
    {
      title: 'Create a session',
      description:
        'Creates a named Claude Code session with its own workspace folder. `template` applies an agent profile (see the templates resource); explicit options win over it.',
      inputSchema: {
        name: sessionName,
        template: z.string().min(1).max(64).optional().describe('Agent template name, e.g. code-reviewer.'),
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
    guarded(async (args) => data({ session: view(await sessions.create(tenant, args)) })),
  );

  server.registerTool(
    'chat',
    {
      title: 'Chat with a session',
      description:
        "Sends a message to the session and answers with Claude Code's reply once the turn ends (tools run in the session's workspace). Sends progress notifications while it runs when the request asks for them.",
      inputSchema: {
        name: sessionName,
        message: z.string().min(1).max(config.maxMessageChars).regex(/\S/).describe('The prompt.'),
        ...optionShape,
      },
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    guarded(async ({ name, ...input }, extra) => {
      const { turn, recorded } = await sessions.chat(tenant, name, input, opts.caller);
      const stop = followTurn(turn, extra, config);
      try {
        const result = await turn.done;
        await recorded;
        return data({ result }, result.content);
      } catch (err) {
        await recorded;
        throw err;
      } finally {
        stop();
      }
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
    guarded(async ({ name }) => data({ session: view(await sessions.get(tenant, name)) })),
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
      description: 'The stored messages of a session, oldest first.',
      inputSchema: { name: sessionName, ...page },
      annotations: { readOnlyHint: true },
    },
    guarded(async ({ name, ...args }) => {
      const p = pageOf(args);
      const result = await sessions.history(tenant, name, p.offset, p.limit);
      return data({ messages: result.items.map(historyView), pagination: paginationOf(p, result.total) });
    }),
  );

  server.registerTool(
    'list_files',
    {
      title: 'List workspace files',
      description: "Lists a folder of the session's workspace (the root by default).",
      inputSchema: {
        name: sessionName,
        path: z.string().max(4096).optional().describe('Folder relative to the workspace (default: the root).'),
        recursive: z.boolean().optional().describe('Also list sub-folders (default false).'),
        include_hidden: z.boolean().optional().describe('Include names starting with a dot (default false).'),
        ...page,
      },
      annotations: { readOnlyHint: true },
    },
    guarded(async ({ name, path, recursive, include_hidden, ...args }) => {
      const row = await sessions.get(tenant, name);
      const p = pageOf(args);
      const all = await inWorkspace(() =>
        listFiles(sessions.folders.workspaceOf(row), path ?? '', {
          recursive,
          includeHidden: include_hidden,
          maxEntries: config.files.maxListEntries,
        }),
      );
      return data({ files: all.slice(p.offset, p.offset + p.limit), pagination: paginationOf(p, all.length) });
    }),
  );

  server.registerTool(
    'read_file',
    {
      title: 'Read a workspace file',
      description: `Reads a file of the session's workspace: text as text, anything else as base64. At most ${READ_FILE_MAX_BYTES} bytes are returned.`,
      inputSchema: {
        name: sessionName,
        path: z.string().min(1).max(4096).describe('File path relative to the workspace.'),
      },
      annotations: { readOnlyHint: true },
    },
    guarded(async ({ name, path }) => {
      const row = await sessions.get(tenant, name);
      const file = await readStart(sessions.folders.workspaceOf(row), path);
      const text = asText(file.content);
      const info = { path: file.path, size: file.size, truncated: file.content.length < file.size };
      if (text !== undefined)
        return { content: [{ type: 'text', text }], structuredContent: { ...info, encoding: 'utf8', content: text } };
      const base64 = file.content.toString('base64');
      return {
        content: [
          {
            type: 'resource',
            resource: {
              uri: `${RESOURCE_ROOT}sessions/${encodeURIComponent(name)}/files/${encodeURI(file.path)}`,
              mimeType: 'application/octet-stream',
              blob: base64,
            },
          },
        ],
        structuredContent: { ...info, encoding: 'base64', content: base64 },
      };
    }),
  );

  registerResources(server, ctx, tenant, view);
  let prompts = registerTemplatePrompts(server, templates.list());
  if (opts.followReloads) {
    const onReload = (list: Template[]) => {
      for (const p of prompts) p.remove();
      prompts = registerTemplatePrompts(server, list);
    };
    templates.on('reloaded', onReload);
    server.server.onclose = () => templates.off('reloaded', onReload);
  }
  return server;
}

function registerResources(
  server: McpServer,
  ctx: McpContext,
  tenant: string,
  view: (row: SessionRow) => unknown,
): void {
  const { sessions, templates } = ctx;
  const json = (uri: URL, value: unknown): ReadResourceResult => ({
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }],
  });
  const newest = () => sessions.list(tenant, 0, RESOURCE_LIST_LIMIT);

  server.registerResource(
    'sessions',
    `${RESOURCE_ROOT}sessions`,
    {
      title: 'Sessions',
      description: `The caller's sessions, newest first (at most ${RESOURCE_LIST_LIMIT}).`,
      mimeType: 'application/json',
    },
    async (uri) => {
      const result = await newest();
      return json(uri, { sessions: result.items.map(view), total: result.total });
    },
  );
  server.registerResource(
    'session',
    new ResourceTemplate(`${RESOURCE_ROOT}sessions/{name}`, {
      list: async () => ({
        resources: (await newest()).items.map((row) => ({
          uri: `${RESOURCE_ROOT}sessions/${encodeURIComponent(row.name)}`,
          name: row.name,
          mimeType: 'application/json',
        })),
      }),
    }),
    { title: 'Session', description: 'One session of the caller.', mimeType: 'application/json' },
    async (uri, vars) =>
      json(uri, { session: view(await sessions.get(tenant, decodeURIComponent(String(vars.name)))) }),
  );
  server.registerResource(
    'templates',
    `${RESOURCE_ROOT}templates`,
    {
      title: 'Templates',
      description: 'The agent templates sessions can be created from.',
      mimeType: 'application/json',
    },
    async (uri) => json(uri, { templates: templates.list().map(templateView) }),
  );
  server.registerResource(
    'template',
    new ResourceTemplate(`${RESOURCE_ROOT}templates/{name}`, {
      list: async () => ({
        resources: templates.list().map((t) => ({
          uri: `${RESOURCE_ROOT}templates/${t.name}`,
          name: t.name,
          description: t.profile.description,
          mimeType: 'application/json',
        })),
      }),
    }),
    { title: 'Template', description: 'One agent template.', mimeType: 'application/json' },
    async (uri, vars) => {
      const t = templates.get(decodeURIComponent(String(vars.name)));
      if (!t)
        throw new ProblemError(
          404,
          'not-found',
          'Not found',
          `No template named ${JSON.stringify(String(vars.name))}.`,
        );
      return json(uri, { template: templateView(t) });
    },
  );
}

/** One prompt per template: asks the client's model to start a session from it and hand it a task. */
function registerTemplatePrompts(server: McpServer, list: Template[]): Array<{ remove(): void }> {
  return list.map((t) =>
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
      ({ task, session }): GetPromptResult => ({
        description: t.profile.description,
        messages: [
          {
            role: 'user',
            content: {
              type: 'text',
              text:
                `Use the claude-code-api tools. Create a session named ${JSON.stringify(session ?? t.name)} with template ${JSON.stringify(t.name)} ` +
                `(create_session; if it already exists, reuse it), then send it this task with chat and report its answer:\n\n${task}`,
            },
          },
        ],
      }),
    ),
  );
}

/**
 * While a chat turn runs: interrupts it when the caller cancels or goes away (CHAT_DISCONNECT=interrupt) and, when
 * the request carries a progress token, reports its events (and a heartbeat) as progress notifications, which also
 * keeps clients that reset their time-out on progress waiting. Returns the function that stops following.
 */
function followTurn(turn: Turn, extra: Extra, config: Config): () => void {
  const stopped = new AbortController();
  const onAbort = () => {
    if (config.engine.chatDisconnect === 'interrupt' && !turn.finished) turn.interrupt('client');
  };
  extra.signal.addEventListener('abort', onAbort, { once: true });
  const token = extra._meta?.progressToken;
  let timer: NodeJS.Timeout | undefined;
  // An approval or question of the turn reaches the client as a notification, whether or not it asked for progress.
  void (async () => {
    for await (const { event } of turn.events(0, stopped.signal)) {
      if (!isPersonEvent(event)) continue;
      await extra
        .sendNotification({
          method: 'notifications/message',
          params: { level: 'warning', logger: 'claude-code-api', data: event },
        })
        .catch(() => undefined);
    }
  })().catch(() => undefined);
  if (token !== undefined) {
    let progress = 0;
    const report = (message: string) =>
      void extra
        .sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: ++progress, message },
        })
        .catch(() => undefined);
    timer = setInterval(() => report('working'), config.engine.heartbeatMs);
    void (async () => {
      for await (const { event } of turn.events(0, stopped.signal)) {
        if (event.type === 'text') report(event.text);
        else if (event.type === 'tool_use') report(`tool_use ${event.name}`);
        else if (event.type === 'tool_result') report(`tool_result${event.is_error ? ' (error)' : ''}`);
        else if (isPersonEvent(event)) report(`${event.type} ${event.id} waits for a person (until ${event.deadline})`);
      }
    })().catch(() => undefined);
  }
  return () => {
    clearInterval(timer);
    stopped.abort();
    extra.signal.removeEventListener('abort', onAbort);
  };
}

/** Text when the bytes are valid UTF-8 without NUL bytes (a cut multi-byte character at the end is allowed). */
function asText(buf: Buffer): string | undefined {
  if (buf.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    const cut = new TextDecoder('utf-8', { fatal: false }).decode(buf);
    return cut.slice(0, -1).includes('\uFFFD') ? undefined : cut.replace(/\uFFFD$/, '');
  }
}

/** Runs a workspace file operation; a refused path becomes the same problem the Files API answers with. */
async function inWorkspace<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkspaceError) throw workspaceProblem(err, { location: 'body', pointer: '/path' });
    throw err;
  }
}

/** The first READ_FILE_MAX_BYTES of a workspace file, its path relative to the workspace and its whole size. */
async function readStart(
  workspace: OpenWorkspace,
  path: string,
): Promise<{ path: string; size: number; content: Buffer }> {
  const file = await inWorkspace(() => openFile(workspace, path));
  try {
    const size = Number(file.stats.size);
    const buf = Buffer.alloc(Math.min(size, READ_FILE_MAX_BYTES));
    const { bytesRead } = await file.handle.read(buf, 0, buf.length, 0);
    return { path: file.entry.path, size, content: buf.subarray(0, bytesRead) };
  } finally {
    await file.handle.close();
  }
}

function problemOf(err: unknown): ProblemDoc {
  if (err instanceof ProblemError || err instanceof EngineError) return err.toProblem();
  return {
    type: '/problems/internal-error',
    title: 'Internal server error',
    status: 500,
    detail: 'The server failed to answer this call; see its log.',
  };
}
