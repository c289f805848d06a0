// The HTTP answer to a WorkspaceError (see docs/errors.md), shared by the files routes and the MCP tools.
import type { WorkspaceError } from '../workspace/errors.js';
import { HttpProblem, type FieldError } from './http-problem.js';

/** Where a path came from, for the `errors[]` of a 422. */
export type PathSource = Pick<FieldError, 'location' | 'pointer'>;

/** The HTTP answer to a WorkspaceError (see docs/errors.md); `source` says which field held the path. */
export function workspaceProblem(err: WorkspaceError, source: PathSource): HttpProblem {
  const detail = `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`;
  switch (err.reason) {
    case 'invalid':
    case 'outside':
    case 'root':
    case 'taken':
      return new HttpProblem(422, detail, {
        slug: 'invalid-path',
        title: 'Invalid path',
        extra: { errors: [{ ...source, message: err.message }] },
      });
    case 'not-found':
      return new HttpProblem(404, detail);
    case 'not-directory':
      return new HttpProblem(400, detail, { slug: 'not-a-directory', title: 'Not a folder' });
    case 'is-directory':
      return new HttpProblem(400, detail, { slug: 'is-a-directory', title: 'Is a folder' });
    case 'not-file':
      return new HttpProblem(400, detail, { slug: 'not-a-regular-file', title: 'Not a regular file' });
    case 'exists':
      return new HttpProblem(409, detail, { slug: 'file-exists', title: 'Already exists' });
    case 'not-empty':
      return new HttpProblem(409, detail, { slug: 'directory-not-empty', title: 'Folder not empty' });
    case 'too-large':
      return new HttpProblem(413, `${detail.slice(0, -1)} (MAX_UPLOAD_MB); nothing was written.`, {
        slug: 'upload-too-large',
        title: 'Upload too large',
        extra: err.extra,
      });
    case 'too-many':
      return new HttpProblem(400, detail, { slug: 'listing-too-large', title: 'Listing too large', extra: err.extra });
    case 'denied':
      return new HttpProblem(403, detail, { slug: 'permission-denied', title: 'Permission denied' });
    case 'no-space':
      return new HttpProblem(507, detail, { slug: 'insufficient-storage', title: 'Insufficient storage' });
    case 'moved':
      return new HttpProblem(409, detail, { slug: 'workspace-moved', title: 'Workspace folder changed' });
  }
}
