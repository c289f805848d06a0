// Storage failures callers can act on, with the driver errors of SQLite and PostgreSQL mapped onto them.

/** A row would break a unique constraint (primary key or unique index) on either dialect. */
export class DuplicateError extends Error {
  override readonly name = 'DuplicateError';
  /** Columns of the violated constraint as the database named them (best effort; empty when unknown). */
  readonly columns: string[];

  constructor(message: string, columns: string[], options?: { cause?: unknown }) {
    super(message, options);
    this.columns = columns;
  }
}

/** A row points at a parent row that does not exist (e.g. a message for a deleted session). */
export class MissingReferenceError extends Error {
  override readonly name = 'MissingReferenceError';
}

/** A schema migration failed; the database stays at the last migration that succeeded. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  readonly migrationName: string | undefined;

  constructor(message: string, migrationName: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.migrationName = migrationName;
  }
}

interface DriverError {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

/** Columns named by a unique violation: SQLite "UNIQUE constraint failed: t.a, t.b", PG detail "Key (a, b)=(…) already exists." */
function violatedColumns(err: DriverError): string[] {
  const sqlite = typeof err.message === 'string' ? /UNIQUE constraint failed: (.+)$/.exec(err.message) : null;
  if (sqlite?.[1]) return sqlite[1].split(',').map((c) => c.trim().replace(/^.*\./, ''));
  const pg = typeof err.detail === 'string' ? /^Key \(([^)]*)\)=/.exec(err.detail) : null;
  if (pg?.[1]) return pg[1].split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  return [];
}

/** Turns a driver's constraint error into DuplicateError / MissingReferenceError; returns anything else unchanged. */
export function mapConstraintError(
  error: unknown,
  describe: { duplicate: string; missingReference?: string },
): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const err = error as DriverError;
  if (err.code === '23505' || err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new DuplicateError(describe.duplicate, violatedColumns(err), { cause: error });
  }
  if (err.code === '23503' || err.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new MissingReferenceError(describe.missingReference ?? 'The referenced row does not exist', {
      cause: error,
    });
  }
  return error;
}
