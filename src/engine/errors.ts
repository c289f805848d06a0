// Failures of the engine, each with the HTTP-neutral kind, a status hint and a problem type slug.
import { problemType, type ProblemDoc } from '../problems.js';

export type EngineErrorKind =
  | 'timeout' // the turn ran past CLAUDE_TIMEOUT_SECONDS and was interrupted
  | 'stalled' // the running turn produced no event for TURN_STALL_SECONDS and was stopped
  | 'memory_exceeded' // the turn's process passed CLI_MAX_RSS_MB and was ended
  | 'overloaded' // no turn slot came free within the wait limit
  | 'session_busy' // too many requests already wait behind this session's turn
  | 'api_error' // the Messages API (or the CLI talking to it) failed the turn
  | 'process_failed' // the Claude Code process could not start or died
  | 'interrupted' // the turn was interrupted on request
  | 'budget_exceeded' // the turn reached its cost limit
  | 'shutting_down' // the server is stopping
  | 'session_gone' // the session was deleted before its turn could start
  | 'workspace_moved' // the session's folder is no longer the one made for it (swapped, moved)
  | 'working_dir_refused' // the session's working directory now breaks the working-directory rules
  | 'owned_elsewhere'; // another node of the cluster holds the session's lease (its process runs there)

const STATUS: Record<EngineErrorKind, number> = {
  timeout: 504,
  stalled: 504,
  memory_exceeded: 502,
  overloaded: 503,
  session_busy: 409,
  api_error: 502,
  process_failed: 502,
  interrupted: 409,
  budget_exceeded: 429,
  shutting_down: 503,
  session_gone: 404,
  workspace_moved: 409,
  working_dir_refused: 409,
  owned_elsewhere: 409,
};

const TITLE: Record<EngineErrorKind, string> = {
  timeout: 'Claude Code timed out',
  stalled: 'Claude Code stalled',
  memory_exceeded: 'Claude Code used too much memory',
  overloaded: 'Too many turns running',
  session_busy: 'Session is busy',
  api_error: 'Claude API error',
  process_failed: 'Claude Code process failed',
  interrupted: 'Turn interrupted',
  budget_exceeded: 'Budget exceeded',
  shutting_down: 'Server is shutting down',
  session_gone: 'Not found',
  workspace_moved: 'Workspace folder changed',
  working_dir_refused: 'Working directory refused',
  owned_elsewhere: 'Session runs on another node',
};

/** The engine kinds a ProblemError from a session's launch keeps (by its slug): the folder checks made before the process starts. */
export const LAUNCH_REFUSALS: Record<string, EngineErrorKind> = {
  'workspace-moved': 'workspace_moved',
  'working-dir-refused': 'working_dir_refused',
};

export class EngineError extends Error {
  override name = 'EngineError';
  readonly status: number;
  readonly title: string;
  constructor(
    readonly kind: EngineErrorKind,
    message: string,
    readonly extra: { retryAfterSeconds?: number; upstreamStatus?: number } = {},
  ) {
    super(message);
    this.status = STATUS[kind];
    this.title = TITLE[kind];
  }

  toProblem(): ProblemDoc {
    const doc: ProblemDoc = {
      type: problemType(this.kind.replace(/_/g, '-')),
      title: this.title,
      status: this.status,
      detail: this.message,
    };
    if (this.extra.upstreamStatus !== undefined) doc.upstream_status = this.extra.upstreamStatus;
    return doc;
  }
}
