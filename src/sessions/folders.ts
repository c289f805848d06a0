// A session's folders as the server uses them: made, opened from APPROVED_DIRECTORY by anchor (recording it for rows older than anchors), removed, and the working-directory rules against the other sessions.
import { ProblemError } from '../problems.js';
import type { SessionRow } from '../store/schema.js';
import type { SessionsRepo } from '../store/sessions-repo.js';
import type { Dir } from '../workspace/anchor.js';
import type { OpenWorkspace } from '../workspace/in-workspace.js';
import {
  checkWorkingDir,
  createWorkspace,
  removeWorkspace,
  resolveWorkingDir,
  WorkspaceError,
  type WorkspaceHolders,
} from '../workspace/paths.js';
import { openAnchored, type Anchor, type AnchoredFolder, type OpenedFolder } from '../workspace/session-dirs.js';

type Which = 'workspace' | 'working_dir';

/** A folder with the anchor it was recorded with. */
export type RecordedFolder = AnchoredFolder & { anchor: Anchor };

export class SessionFolders {
  constructor(
    /** APPROVED_DIRECTORY. */
    private readonly root: string,
    private readonly sessions: SessionsRepo,
  ) {}

  /** Makes a new session's workspace `<root>/<tenant>/<name>` and answers it with its anchor. */
  create(tenant: string, name: string): Promise<RecordedFolder> {
    return createWorkspace(this.root, tenant, name);
  }

  /** Deletes the session's workspace, only while it is still the folder recorded (see removeWorkspace). */
  remove(row: SessionRow): Promise<void> {
    return removeWorkspace(this.root, folderOf(row, 'workspace'));
  }

  /**
   * A client's `working_dir` for a new session or `/repo` (`sessionId`: the session it is for, left out of the
   * rules), resolved and checked: its real path and anchor. A refusal is 422 `validation-failed` on `/working_dir`.
   */
  async resolveWorkingDir(tenant: string, candidate: string, sessionId?: string): Promise<RecordedFolder> {
    try {
      return await resolveWorkingDir(this.root, tenant, candidate, this.holders(sessionId));
    } catch (err) {
      if (err instanceof WorkspaceError) {
        throw new ProblemError(422, 'validation-failed', 'Validation failed', err.message, {
          errors: [{ location: 'body', pointer: '/working_dir', message: err.message }],
        });
      }
      throw err;
    }
  }

  /**
   * The session's workspace as file operations open it: from APPROVED_DIRECTORY by anchor, every time (see
   * OpenWorkspace). A folder that is no longer the one made for the session answers 409 `workspace-moved`.
   */
  workspaceOf(row: SessionRow): OpenWorkspace {
    return async () => (await this.open(row, 'workspace')).dir;
  }

  /**
   * The session's working directory, opened from APPROVED_DIRECTORY by anchor and checked (the working-directory
   * rules too, when it is not the session's own workspace): what a Claude Code process of the session runs in and
   * its guard's root. The caller closes it. 409 `workspace-moved` when it is no longer the folder recorded,
   * 409 `working-dir-refused` when it now breaks the rules (e.g. another session's workspace was made inside it).
   */
  async openWorkingDir(row: SessionRow): Promise<Dir> {
    const { dir, root } = await this.open(row, 'working_dir');
    if (row.working_dir === row.workspace) return dir;
    try {
      await checkWorkingDir(root, dir.real, row.owner, this.holders(row.id));
      return dir;
    } catch (err) {
      await dir.close();
      if (err instanceof WorkspaceError)
        throw new ProblemError(409, 'working-dir-refused', 'Working directory refused', sentence(err.message));
      throw err;
    }
  }

  /** Opens the workspace or working directory by anchor, recording the anchor of a row made before anchors were. */
  private async open(row: SessionRow, which: Which): Promise<OpenedFolder> {
    const folder = folderOf(row, which);
    const what = which === 'workspace' ? "the session's workspace folder" : "the session's working directory";
    let opened;
    try {
      opened = await openAnchored(this.root, folder, what);
    } catch (err) {
      if (err instanceof WorkspaceError && err.reason === 'moved')
        throw new ProblemError(
          409,
          'workspace-moved',
          'Workspace folder changed',
          `${sentence(err.message)} Restore the folder or delete the session.`,
        );
      throw err;
    }
    if (folder.anchor === null) {
      try {
        await this.sessions.update(row.id, {
          [`${which}_dev`]: opened.anchor.dev,
          [`${which}_ino`]: opened.anchor.ino,
          updated_at: row.updated_at,
        });
      } catch (err) {
        await opened.dir.close();
        throw err;
      }
    }
    return opened;
  }

  /** Sessions (but `except`) whose workspace is one of the paths or lies below a folder: the working-directory rule. */
  private holders(except?: string): WorkspaceHolders {
    return (paths, below) => this.sessions.workspacesAt(paths, below, except);
  }
}

/** The stored workspace or working directory of a session, with its anchor (null when not recorded yet). */
function folderOf(row: SessionRow, which: Which): AnchoredFolder {
  const dev = row[`${which}_dev`];
  const ino = row[`${which}_ino`];
  return { path: row[which], anchor: dev !== null && ino !== null ? { dev, ino } : null };
}

/** A message as a sentence: capital first letter, final full stop. */
function sentence(message: string): string {
  return `${message.charAt(0).toUpperCase()}${message.slice(1)}${message.endsWith('.') ? '' : '.'}`;
}
