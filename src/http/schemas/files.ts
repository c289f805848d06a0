// TypeBox schemas of the files API: entries, upload result, listing/upload/delete queries, path params.
import { Type } from 'typebox';
import { PaginationQuery } from './common.js';
import { SESSION_NAME_PATTERN } from './sessions.js';

const PathText = (description: string) => Type.String({ maxLength: 4096, description });

export const FileEntrySchema = Type.Object({
  name: Type.String(),
  path: Type.String({ description: "Relative to the session's workspace, `/`-separated." }),
  type: Type.Union([Type.Literal('file'), Type.Literal('directory'), Type.Literal('symlink'), Type.Literal('other')], {
    description: '`symlink` entries are listed, never followed; `other` = FIFO, socket or device.',
  }),
  size: Type.Integer({ minimum: 0, description: 'Bytes.' }),
  modified: Type.String({ format: 'date-time' }),
});

export const WrittenFileSchema = Type.Object({
  ...FileEntrySchema.properties,
  sha256: Type.String({ description: 'SHA-256 of the content, hex.' }),
  created: Type.Boolean({ description: 'False when an existing file was replaced.' }),
});

export const FilesParams = Type.Object({
  name: Type.String({ pattern: SESSION_NAME_PATTERN, description: 'Session name.' }),
});

export const FilePathParams = Type.Object({
  name: Type.String({ pattern: SESSION_NAME_PATTERN, description: 'Session name.' }),
  '*': PathText('Path of the file inside the workspace (URL-decoded once; `/` separates folders).'),
});

export const ListFilesQuery = Type.Object({
  ...PaginationQuery.properties,
  path: Type.Optional(PathText('Folder to list, relative to the workspace (default: its root).')),
  recursive: Type.Optional(
    Type.Boolean({
      default: false,
      description: 'Also list everything below, depth first (symlinked folders are not entered).',
    }),
  ),
  include_hidden: Type.Optional(
    Type.Boolean({
      default: false,
      description: 'Include names starting with a dot (and what is below hidden folders).',
    }),
  ),
});

export const UploadQuery = Type.Object({
  path: Type.Optional(
    PathText(
      "The folder to put the file in, under its own name (the Python seed's `path`); instead of the `path` form field, which names the file itself.",
    ),
  ),
  overwrite: Type.Optional(Type.Boolean({ description: 'Instead of the `overwrite` form field (default true).' })),
});

export const DeleteFileQuery = Type.Object({
  recursive: Type.Optional(
    Type.Boolean({
      default: false,
      description: 'Delete a folder with everything in it (otherwise only an empty folder).',
    }),
  ),
});

/** The multipart body, for the OpenAPI document only (the route reads the stream itself). */
export const UploadBodyDoc = Type.Object({
  path: Type.Optional(
    PathText(
      "Target path relative to the workspace. Default: the uploaded file's name at the root; ending in `/` = a folder to put it in. Send it before the file part.",
    ),
  ),
  overwrite: Type.Optional(
    Type.String({
      enum: ['true', 'false'],
      description: 'Replace an existing file (default true); `false` answers 409 if the path is taken.',
    }),
  ),
  file: Type.String({ format: 'binary', description: 'The file (one per request), at most MAX_UPLOAD_MB.' }),
});

export const BinaryBody = Type.String({ format: 'binary' });
