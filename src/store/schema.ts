// Table shapes as stored (Kysely's Database) and the row shapes the repositories hand out (JSON columns parsed).
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** A JSON object as callers see it; stored as text. */
export type JsonObject = { [key: string]: unknown };

/** Text column holding JSON; repositories parse and serialize it. */
export type JsonText = string;

/** Text column with a database default, so inserts may omit it. */
type DefaultedText = ColumnType<string, string | undefined, string>;

export type SessionStatus = 'pending' | 'active';
export type MessageRole = 'user' | 'assistant';
export type MessageStatus = 'ok' | 'error' | 'interrupted' | 'timeout';

export interface SessionsTable {
  id: string;
  owner: string;
  name: string;
  workspace: string;
  working_dir: string;
  status: SessionStatus;
  claude_session_id: string | null;
  /** JSON object: model, effort, system_prompt, max_turns, allowed_tools, … (opaque to the store). */
  options: DefaultedText;
  template: string | null;
  cost_usd: Generated<number>;
  turns: Generated<number>;
  input_tokens: Generated<number>;
  output_tokens: Generated<number>;
  cache_read_tokens: Generated<number>;
  cache_creation_tokens: Generated<number>;
  /** The last cumulative cost the CLI reported for this Claude session. */
  claude_cost_total: Generated<number>;
  last_event_id: Generated<number>;
  /** ISO-8601 timestamps. */
  created_at: string;
  updated_at: string;
  last_active_at: string | null;
}

export interface MessagesTable {
  id: Generated<number>;
  session_id: string;
  turn_id: string;
  role: MessageRole;
  content: string;
  status: ColumnType<MessageStatus, MessageStatus | undefined, MessageStatus>;
  tools_used: JsonText | null;
  cost_usd: number | null;
  duration_ms: number | null;
  num_turns: number | null;
  usage: JsonText | null;
  model: string | null;
  error: JsonText | null;
  created_at: string;
}

export interface Database {
  sessions: SessionsTable;
  messages: MessagesTable;
}

/** A sessions row as stored (options still JSON text). */
export type StoredSession = Selectable<SessionsTable>;
/** A messages row as stored (JSON columns still text). */
export type StoredMessage = Selectable<MessagesTable>;

/** A session as the repository returns it. */
export type SessionRow = Omit<StoredSession, 'options'> & { options: JsonObject };

/** What `sessions.create` takes: totals default to 0, options to {}, timestamps to now. */
export type NewSession = Omit<Insertable<SessionsTable>, 'options' | 'created_at' | 'updated_at'> & {
  options?: JsonObject;
  created_at?: string;
  updated_at?: string;
};

/** What `sessions.update` takes: any column but id and created_at; updated_at defaults to now. */
export type SessionPatch = Omit<Updateable<SessionsTable>, 'id' | 'created_at' | 'options'> & { options?: JsonObject };

/** A message as the repository returns it. */
export type MessageRow = Omit<StoredMessage, 'tools_used' | 'usage' | 'error'> & {
  tools_used: unknown[] | null;
  usage: JsonObject | null;
  error: JsonObject | null;
};

/** What `messages.insert` takes: nullable columns may be omitted, status defaults to 'ok', created_at to now. */
export type NewMessage = Omit<Insertable<MessagesTable>, 'id' | 'tools_used' | 'usage' | 'error' | 'created_at'> & {
  tools_used?: unknown[] | null;
  usage?: JsonObject | null;
  error?: JsonObject | null;
  created_at?: string;
};

/** One page of a listing. */
export interface PageRequest {
  offset: number;
  limit: number;
}

/** A page of rows and the count of all rows matching, across pages. */
export interface Page<T> {
  items: T[];
  total: number;
}
