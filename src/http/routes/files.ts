// Files routes: upload (multipart, streamed, atomic), list, download (Range, ETag), delete — inside the session's workspace only.
import { Readable } from 'node:stream';
import multipart, { type Multipart } from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WorkspaceError } from '../../workspace/errors.js';
import { listFiles } from '../../workspace/listing.js';
import { openFile } from '../../workspace/reading.js';
import { removePath } from '../../workspace/removal.js';
import { stageFile, type StagedFile } from '../../workspace/uploads.js';
import type { AppDeps } from '../deps.js';
import { contentDisposition, contentTypeOf, etagOf, noneMatch, rangeOf } from '../download.js';
import { ok, pageOf, paginationOf } from '../envelope.js';
import { HttpProblem, unprocessable, unsupportedMediaType } from '../http-problem.js';
import { partAwareValidators } from '../plugins/validators.js';
import { Envelope, ListEnvelope, problemResponses } from '../schemas/common.js';
import {
  BinaryBody,
  DeleteFileQuery,
  FileEntrySchema,
  FilePathParams,
  FilesParams,
  ListFilesQuery,
  UploadBodyDoc,
  UploadQuery,
  WrittenFileSchema,
} from '../schemas/files.js';
import { workspaceProblem, type PathSource } from '../workspace-problem.js';
import { routePlugin } from '../route-plugin.js';

function rethrow(err: unknown, source: PathSource): never {
  if (err instanceof WorkspaceError) throw workspaceProblem(err, source);
  throw err;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

const BOOL_FIELD: Record<string, boolean> = { true: true, '1': true, false: false, '0': false };

/** A failure of the multipart parser without a status of its own (bad boundary, truncated part …) is the client's: 400. */
function malformed(err: unknown): unknown {
  if (err instanceof HttpProblem || typeof (err as { statusCode?: unknown } | undefined)?.statusCode === 'number')
    return err;
  const why = err instanceof Error ? err.message : String(err);
  return new HttpProblem(400, `The multipart body is malformed: ${why}.`, {
    slug: 'bad-multipart',
    title: 'Malformed multipart body',
  });
}

/**
 * The file part's bytes, with parser failures turned into 400 problems (disk failures stay what they are). When the
 * writer stops early (disk full …) the stream is left undestroyed for the caller to resume: the parser waits on a
 * destroyed one forever, the rest of the body is never read and the next request on the connection hangs.
 */
/** A query `path` as the folder form the stager takes: '' (the workspace) or ending in `/`. */
function folderPath(path: string | undefined): string | undefined {
  if (path === undefined || path === '' || path.endsWith('/')) return path;
  return `${path}/`;
}

async function* guarded(stream: Readable): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of stream.iterator({ destroyOnReturn: false })) yield chunk as Uint8Array;
  } catch (err) {
    throw malformed(err);
  }
}

/** Reads what is left of a refused upload (in the background) so the client can read our answer. */
function drain(parts: AsyncIterator<Multipart>): void {
  void (async () => {
    try {
      for (;;) {
        const next = await parts.next();
        if (next.done) return;
        if (next.value.type === 'file') next.value.file.resume();
      }
    } catch {
      // the request ended badly; nothing to read
    }
  })();
}

/** What the files routes use. */
export type FilesRoutesDeps = Pick<AppDeps, 'config' | 'sessions'>;

async function filesRoutes(fastify: FastifyInstance, deps: FilesRoutesDeps): Promise<void> {
  const { sessions, config } = deps;
  const maxBytes = config.files.maxUploadBytes;

  await fastify.register(async (scope) => {
    // Multipart parsing only for these routes; nothing is buffered: the upload route streams the file itself.
    await scope.register(multipart, { limits: { fileSize: maxBytes } });
    scope.addContentTypeParser('*', (request, _payload, done) => {
      done(
        unsupportedMediaType(
          `Content-Type '${(request.headers['content-type'] ?? '').slice(0, 100)}' is not supported; send multipart/form-data.`,
        ),
        undefined,
      );
    });
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();

    // The multipart body is described for OpenAPI but read as a stream, so it is not validated as an object.
    const validators = partAwareValidators()({}, { customOptions: {}, plugins: [] }) as unknown as (route: {
      httpPart?: string;
    }) => unknown;

    app.post(
      '/sessions/:name/files',
      {
        schema: {
          tags: ['Files'],
          operationId: 'uploadFile',
          summary: 'Upload a file',
          description:
            "multipart/form-data with one file part and optional `path` and `overwrite` fields sent before it. The `path` query parameter instead (the Python seed's form) names a folder: the file keeps its own name inside it. The file is streamed to a temp file in " +
            'the target folder and renamed into place, so a failed, aborted or over-limit (MAX_UPLOAD_MB → 413) upload leaves nothing behind. ' +
            'Missing folders are created. `overwrite=false` answers 409 if the path is taken.',
          params: FilesParams,
          querystring: UploadQuery,
          body: { content: { 'multipart/form-data': { schema: UploadBodyDoc } } },
          response: {
            201: Envelope(WrittenFileSchema),
            ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 507),
          },
        },
        validatorCompiler: ((route: { httpPart?: string }) =>
          route.httpPart === 'body' ? () => true : validators(route)) as never,
      },
      async (request, reply) => {
        const row = await sessions.get(request.tenant, request.params.name);
        if (!request.isMultipart()) throw unsupportedMediaType('Send the file as multipart/form-data.');
        const parts = request
          .parts({
            limits: { fileSize: maxBytes, files: 2, fields: 10, parts: 20, fieldSize: 8192, fieldNameSize: 100 },
          })
          [Symbol.asyncIterator]();
        // The query's `path` is a folder the file goes into under its own name, as the Python seed's was; the form
        // field's is the file's own path (a folder when it ends in `/`).
        let path = folderPath(request.query.path);
        let overwrite = request.query.overwrite;
        let pathSource: PathSource = { location: 'query', pointer: '/path' };
        let staged: StagedFile | undefined;
        try {
          for (;;) {
            const next = await parts.next().catch((err: unknown) => {
              throw malformed(err);
            });
            if (next.done) break;
            const part = next.value;
            if (part.type === 'file') {
              if (staged) {
                part.file.resume();
                throw unprocessable('Send one file per request.', [
                  { location: 'body', pointer: `/${part.fieldname}`, message: 'is a second file' },
                ]);
              }
              const file = part.file;
              try {
                staged = await stageFile(sessions.folders.workspaceOf(row), guarded(file), {
                  path,
                  name: part.filename,
                  overwrite: overwrite ?? true,
                  maxBytes,
                  truncated: () => file.truncated,
                  label: 'path',
                  nameLabel: 'the file name',
                });
              } catch (err) {
                file.resume();
                if (err instanceof WorkspaceError && err.extra.field === 'name')
                  rethrow(err, { location: 'body', pointer: `/${part.fieldname}` });
                rethrow(err, pathSource);
              }
              continue;
            }
            const field = part.fieldname;
            const value = typeof part.value === 'string' ? part.value : String(part.value);
            const fieldError = (message: string) =>
              unprocessable(`Invalid form field '${field}': ${message}.`, [
                { location: 'body', pointer: `/${field}`, message },
              ]);
            if (staged) throw fieldError('must be sent before the file part');
            if (part.valueTruncated) throw fieldError('is too long');
            if (field === 'path') {
              if (path !== undefined) throw fieldError('is given twice (form field and query parameter, or repeated)');
              path = value;
              pathSource = { location: 'body', pointer: '/path' };
            } else if (field === 'overwrite') {
              if (overwrite !== undefined)
                throw fieldError('is given twice (form field and query parameter, or repeated)');
              overwrite = BOOL_FIELD[value.trim().toLowerCase()];
              if (overwrite === undefined) throw fieldError('must be true or false');
            } else {
              throw fieldError('is not an allowed field (path, overwrite, and one file)');
            }
          }
          if (!staged)
            throw unprocessable('The form holds no file part.', [
              { location: 'body', pointer: '/file', message: 'is required' },
            ]);
          const written = await staged.commit().catch((err: unknown) => rethrow(err, pathSource));
          staged = undefined;
          reply
            .code(201)
            .header('location', `/api/v1/sessions/${encodeURIComponent(row.name)}/files/${encodePath(written.path)}`);
          return ok(request, written);
        } catch (err) {
          await staged?.discard();
          drain(parts);
          if ((err as { code?: string } | undefined)?.code === 'FST_REQ_FILE_TOO_LARGE') {
            throw workspaceProblem(
              new WorkspaceError(`the file is larger than the limit of ${maxBytes} bytes`, 'too-large', {
                limit_bytes: maxBytes,
              }),
              pathSource,
            );
          }
          throw err;
        }
      },
    );

    app.get(
      '/sessions/:name/files',
      {
        schema: {
          tags: ['Files'],
          operationId: 'listFiles',
          summary: 'List files',
          description:
            "Entries of a folder of the session's workspace (default: its root), sorted by path; `recursive` walks below it depth first. " +
            'Symlinks are listed as `symlink` and never followed; names starting with a dot are left out unless `include_hidden`.',
          params: FilesParams,
          querystring: ListFilesQuery,
          response: { 200: ListEnvelope(FileEntrySchema), ...problemResponses(400, 401, 403, 404, 409, 422) },
        },
      },
      async (request) => {
        const row = await sessions.get(request.tenant, request.params.name);
        const q = request.query;
        const p = pageOf(q);
        const entries = await listFiles(sessions.folders.workspaceOf(row), q.path ?? '', {
          recursive: q.recursive ?? false,
          includeHidden: q.include_hidden ?? false,
          maxEntries: config.files.maxListEntries,
        }).catch((err: unknown) => rethrow(err, { location: 'query', pointer: '/path' }));
        return ok(request, entries.slice(p.offset, p.offset + p.limit), paginationOf(p, entries.length));
      },
    );

    app.get(
      '/sessions/:name/files/*',
      {
        schema: {
          tags: ['Files'],
          operationId: 'downloadFile',
          summary: 'Download a file',
          description:
            'Streams the file with a Content-Type by extension, `ETag` (`If-None-Match` → 304) and single `Range` requests (206; past the end → 416). ' +
            'A folder answers 400. Sent as an attachment with `X-Content-Type-Options: nosniff`.',
          params: FilePathParams,
          response: {
            200: { description: 'The file.', content: { 'application/octet-stream': { schema: BinaryBody } } },
            206: {
              description: 'The requested byte range.',
              content: { 'application/octet-stream': { schema: BinaryBody } },
            },
            304: { description: 'Not modified (If-None-Match matched).', type: 'null' },
            ...problemResponses(400, 401, 403, 404, 409, 416, 422),
          },
        },
      },
      async (request, reply) => {
        const row = await sessions.get(request.tenant, request.params.name);
        const file = await openFile(sessions.folders.workspaceOf(row), request.params['*']).catch((err: unknown) =>
          rethrow(err, { location: 'params', pointer: '/path' }),
        );
        return sendFile(request, reply, file);
      },
    );

    app.delete(
      '/sessions/:name/files/*',
      {
        schema: {
          tags: ['Files'],
          operationId: 'deleteFile',
          summary: 'Delete a file or folder',
          description:
            'Deletes a file, a symlink (never its target) or an empty folder; `recursive=true` deletes a folder with everything in it. The workspace root cannot be deleted (422).',
          params: FilePathParams,
          querystring: DeleteFileQuery,
          response: {
            204: { type: 'null', description: 'Deleted.' },
            ...problemResponses(400, 401, 403, 404, 409, 422),
          },
        },
      },
      async (request, reply) => {
        const row = await sessions.get(request.tenant, request.params.name);
        await removePath(sessions.folders.workspaceOf(row), request.params['*'], {
          recursive: request.query.recursive ?? false,
        }).catch((err: unknown) => rethrow(err, { location: 'params', pointer: '/path' }));
        return reply.code(204).send(null);
      },
    );
  });
}

function one(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header.join(', ') : header;
}

async function sendFile(
  request: FastifyRequest,
  reply: FastifyReply,
  file: Awaited<ReturnType<typeof openFile>>,
): Promise<FastifyReply> {
  const { handle, stats, entry } = file;
  const size = Number(stats.size);
  const etag = etagOf(stats);
  reply.headers({
    etag,
    'last-modified': new Date(Number(stats.mtimeMs)).toUTCString(),
    'accept-ranges': 'bytes',
    'cache-control': 'private, no-cache',
    'x-content-type-options': 'nosniff',
    'content-disposition': contentDisposition(entry.name),
  });
  if (noneMatch(one(request.headers['if-none-match']), etag)) {
    await handle.close();
    return reply.code(304).send();
  }
  const range = rangeOf(request.headers.range, size, one(request.headers['if-range']), etag);
  if (range.kind === 'unsatisfiable') {
    await handle.close();
    throw new HttpProblem(
      416,
      `The range ${JSON.stringify(request.headers.range)} does not overlap the file's ${size} bytes.`,
      {
        headers: { 'Content-Range': `bytes */${size}` },
        extra: { size },
      },
    );
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, size - 1];
  const length = size === 0 ? 0 : end - start + 1;
  reply.type(contentTypeOf(entry.name)).header('content-length', String(length));
  if (range.kind === 'partial') reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
  if (request.method === 'HEAD' || length === 0) {
    await handle.close();
    // An empty stream: Fastify's HEAD handling keeps our Content-Length for a stream, and reads nothing.
    return reply.send(request.method === 'HEAD' ? Readable.from([]) : Buffer.alloc(0));
  }
  return reply.send(handle.createReadStream({ start, end }));
}

export default routePlugin('files-routes', filesRoutes);
