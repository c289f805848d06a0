// Converts between stored rows (JSON as text) and the rows callers see (JSON parsed).
import type { JsonObject, MessageRow, SessionRow, StoredMessage, StoredSession } from './schema.js';

/** JSON text for a value, or null for null/undefined. */
export function toJsonText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the column's JSON type
function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function toSessionRow(stored: StoredSession): SessionRow {
  return { ...stored, options: parseJson<JsonObject>(stored.options) ?? {} };
}

export function toMessageRow(stored: StoredMessage): MessageRow {
  return {
    ...stored,
    tools_used: parseJson<unknown[]>(stored.tools_used),
    usage: parseJson<JsonObject>(stored.usage),
    error: parseJson<JsonObject>(stored.error),
  };
}

/** The current time as an ISO-8601 string, the format of every timestamp column. */
export function nowIso(): string {
  return new Date().toISOString();
}

/** Rejects offsets/limits that are not non-negative integers (they would reach SQL otherwise). */
export function checkPage(page: { offset: number; limit: number }): void {
  for (const [key, value] of Object.entries(page)) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`${key} must be a non-negative integer (got ${String(value)})`);
  }
}
