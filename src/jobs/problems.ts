// Problem documents a job can end with besides the engine's own (cancelled, key revoked, interrupted by a restart, internal failure).
import type { NumberedEvent } from '../engine/events.js';
import { problemType, type ProblemDoc } from '../problems.js';

export function cancelledProblem(started: boolean): ProblemDoc {
  return {
    type: problemType('job-cancelled'),
    title: 'Job cancelled',
    status: 409,
    detail: started
      ? 'The job was cancelled while its turn ran; the turn was interrupted.'
      : 'The job was cancelled before its turn started.',
  };
}

/** A job of a key that was revoked before the job ran, or while it ran (its turn was interrupted). */
export function keyRevokedProblem(started = false): ProblemDoc {
  return {
    type: problemType('revoked-api-key'),
    title: 'Unauthorized',
    status: 401,
    detail: started
      ? 'The API key that created this job was revoked while the job ran; its turn was interrupted.'
      : 'The API key that created this job was revoked before the job ran.',
  };
}

export function restartProblem(retryOnRestart: boolean): ProblemDoc {
  return {
    type: problemType('job-interrupted'),
    title: 'Job interrupted by a server restart',
    status: 503,
    detail: retryOnRestart
      ? 'The server stopped while this job was running, and it had already been re-queued once after a restart; it is not retried again.'
      : 'The server stopped while this job was running; it is not re-queued because JOB_RETRY_ON_RESTART is false.',
  };
}

export function approvalExpiredProblem(): ProblemDoc {
  return {
    type: problemType('approval-expired'),
    title: 'Approval expired with a server restart',
    status: 503,
    detail:
      'The server stopped while this job waited for a person (an approval or a question); that request expired and the turn was recorded as interrupted. The job is not re-run: send the session another message to go on from its transcript.',
  };
}

export function internalProblem(): ProblemDoc {
  return {
    type: problemType('internal-error'),
    title: 'Internal server error',
    status: 500,
    detail: 'The job could not be run because of an unexpected error.',
  };
}

/** The single event a job that never ran shows on its event stream: an `error` with its problem, numbered 0. */
export function syntheticEnd(problem: ProblemDoc): NumberedEvent[] {
  return [{ id: 0, event: { type: 'error', problem } }];
}
