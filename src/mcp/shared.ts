// What the MCP tools, resources and prompts share: the caller's context, argument schemas, and answers (data or a problem).
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../config/index.js';
import { EFFORT_LEVELS, PERMISSION_MODES } from '../config/settings.js';
import { EngineError } from '../engine/errors.js';
import { SESSION_NAME_PATTERN } from '../http/schemas/sessions.js';
import { retryAfterOf } from '../http/plugins/problem-responses.js';
import type { sessionView } from '../http/views.js';
import { ProblemError, type ProblemDoc } from '../problems.js';
import type { ChatCaller, SessionService } from '../sessions/service.js';
import type { RemoteTurns } from './remote.js';
import type { SessionRow } from '../store/schema.js';
import type { TemplateRegistry } from '../templates/registry.js';

export interface McpContext {
  config: Config;
  sessions: SessionService;
  templates: TemplateRegistry;
  log: Pick<Logger, 'error' | 'warn' | 'info'>;
  version: string;
}

/** One MCP server's caller: the context, the tenant it acts as, who asks for turns, and how it shows a session. */
export interface McpCaller {
  ctx: McpContext;
  tenant: string;
  caller?: ChatCaller;
  view: (row: SessionRow) => SessionView;
  /** Several nodes (MCP over HTTP): where turns of sessions another node runs go. */
  remote?: RemoteTurns;
}

export type SessionView = ReturnType<typeof sessionView>;

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export const RESOURCE_ROOT = 'claude-code-api://';

export const sessionName = z
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

/** A value, or '' for "not set" (the Python seed's MCP tools default their optional strings to ''). */
export const orBlank = <T extends z.ZodType>(schema: T) => z.union([schema, z.literal('')]).optional();

/** The arguments without the '' the Python seed's clients send for "not set". */
export function withoutBlanks<A extends Record<string, unknown>>(args: A): { [K in keyof A]: Exclude<A[K], ''> } {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== '')) as {
    [K in keyof A]: Exclude<A[K], ''>;
  };
}

export const optionShape = {
  system_prompt: orBlank(z.string().max(100_000)).describe("Text appended to Claude Code's own system prompt."),
  model: orBlank(z.string().min(1).max(200)).describe('Model name or alias.'),
  effort: orBlank(z.enum(EFFORT_LEVELS)).describe('Effort level.'),
  max_turns: z.number().int().min(1).max(1000).optional().describe('Most agentic turns per chat request.'),
  allowed_tools: toolList("Tools Claude may use: a subset of the operator's.").optional(),
  disallowed_tools: toolList('Tools removed.').optional(),
  permission_mode: z.enum(PERMISSION_MODES).optional().describe('One of the modes the operator allows.'),
};

export const page = {
  page: z.number().int().min(1).optional().describe('Page number, from 1 (default 1).'),
  limit: z.number().int().min(1).max(100).optional().describe('Items per page, 1–100 (default 20).'),
};

export function data(value: Record<string, unknown>, text = JSON.stringify(value, null, 2)): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: value };
}

export function problemOf(err: unknown): ProblemDoc {
  if (err instanceof ProblemError || err instanceof EngineError) return err.toProblem();
  return {
    type: '/problems/internal-error',
    title: 'Internal server error',
    status: 500,
    detail: 'The server failed to answer this call; see its log.',
  };
}

/**
 * Runs a tool; a refused or failed call answers `isError` with the problem document, never a stack, and beside it
 * `retry_after_seconds` when the failure says when a retry may succeed (what REST sends as Retry-After).
 */
export function guardedBy(log: McpContext['log'], tenant: string) {
  return <A>(fn: (args: A, extra: Extra) => Promise<CallToolResult>) =>
    async (args: A, extra: Extra): Promise<CallToolResult> => {
      try {
        return await fn(args, extra);
      } catch (err) {
        const problem = problemOf(err);
        if (problem.status >= 500 && !(err instanceof EngineError)) log.error({ err, tenant }, 'MCP tool failed');
        const retry = retryAfterOf(err);
        const text = `${problem.title}: ${problem.detail}${retry === undefined ? '' : ` (retry after ${retry} s)`}`;
        return {
          isError: true,
          content: [{ type: 'text', text }],
          structuredContent: { problem, ...(retry !== undefined && { retry_after_seconds: retry }) },
        };
      }
    };
}
