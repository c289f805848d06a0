// The workspace tools: list_files and read_file, through the same safe path resolver as the Files API.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { pageOf, paginationOf } from '../../http/envelope.js';
import { workspaceProblem } from '../../http/workspace-problem.js';
import { WorkspaceError } from '../../workspace/errors.js';
import type { OpenWorkspace } from '../../workspace/in-workspace.js';
import { listFiles } from '../../workspace/listing.js';
import { openFile } from '../../workspace/reading.js';
import { data, guardedBy, page, RESOURCE_ROOT, sessionName, type McpCaller } from '../shared.js';

/** Most bytes `read_file` returns; larger files are cut there (and say so). */
export const READ_FILE_MAX_BYTES = 1024 * 1024;

export function registerFileTools(server: McpServer, { ctx, tenant }: McpCaller): void {
  const { sessions, config, log } = ctx;
  const guarded = guardedBy(log, tenant);

  server.registerTool(
    'list_files',
    {
      title: 'List workspace files',
      description: "Lists a folder of the session's workspace (the root by default, or when `path` is empty).",
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
