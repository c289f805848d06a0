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
  /** (device, inode) of the workspace folder as decimal text; null until recorded (rows older than migration 0004). */
  workspace_dev: ColumnType<string | null, string | null | undefined, string | null>;
  workspace_ino: ColumnType<string | null, string | null | undefined, string | null>;
  /** (device, inode) of the working directory, likewise. */
  working_dir_dev: ColumnType<string | null, string | null | undefined, string | null>;
  working_dir_ino: ColumnType<string | null, string | null | undefined, string | null>;
  status: SessionStatus;
  claude_session_id: string | null;
  /** JSON object: model, effort, system_prompt, max_turns, allowed_tools, … (opaque to the store). */
  options: DefaultedText;
  template: string | null;
  /** The Python seed's `user_id`: a label inside the owner's tenant (null: none given, the owner stands for it). */
  user_label: ColumnType<string | null, string | null | undefined, string | null>;
  cost_usd: Generated<number>;
  turns: Generated<number>;
  input_tokens: Generated<number>;
  output_tokens: Generated<number>;
  cache_read_tokens: Generated<number>;
  cache_creation_tokens: Generated<number>;
  /** The last cumulative cost the CLI reported for this Claude session. */
  claude_cost_total: Generated<number>;
  last_event_id: Generated<number>;
  /** Several nodes: the epoch of the newest lease a node claimed on the session (0: never); its writes are fenced on it. */
  lease_epoch: Generated<number>;
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

export type ApiKeyScope = 'admin' | 'user';

/** Keys created through the API or CLI; keys from API_KEYS / ADMIN_API_KEYS are not stored. */
export interface ApiKeysTable {
  id: string;
  name: string;
  scope: ApiKeyScope;
  tenant: string;
  /** SHA-256 of the secret, hex. */
  hash: string;
  /** The secret's first characters, for telling keys apart. */
  prefix: string;
  /** Requests per RATE_LIMIT_WINDOW; null = the server's RATE_LIMIT_REQUESTS. */
  rate_limit: number | null;
  /** Total spend allowed to this key, USD; null = none of its own. */
  budget_usd: number | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

/** One audited event: a mutating request, or a tool call / denial inside a turn. */
export interface AuditLogTable {
  id: Generated<number>;
  created_at: string;
  key_id: string | null;
  tenant: string | null;
  action: string;
  resource: string | null;
  /** The session's name, when the event concerns one. */
  session: string | null;
  /** HTTP status of the request; null for tool events. */
  status: number | null;
  outcome: string;
  request_id: string | null;
  ip: string | null;
  method: string | null;
  route: string | null;
  /** JSON object with event-specific facts (tool input, denial reason …). */
  detail: JsonText | null;
}

export type JobStatus = 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';

/** An async job: one chat turn run in the background (see src/jobs). */
export interface JobsTable {
  id: string;
  owner: string;
  /** The key that queued the job (its budget and fair share apply when it runs); null in open mode or before 0005. */
  key_id: ColumnType<string | null, string | null | undefined, string | null>;
  session_id: string;
  session_name: string;
  status: JobStatus;
  message: string;
  /** JSON object: the chat overrides of the job. */
  options: DefaultedText;
  webhook_url: string | null;
  metadata: JsonText | null;
  turn_id: string | null;
  /** JSON: the turn's result (as a sync chat returns it). */
  result: JsonText | null;
  /** JSON: the problem document of a failed or cancelled job. */
  error: JsonText | null;
  /** JSON array of the turn's numbered events, once finished. */
  events: JsonText | null;
  attempts: Generated<number>;
  restarts: Generated<number>;
  run_after: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One webhook message to one URL, with its attempts. */
export interface WebhookDeliveriesTable {
  id: string;
  job_id: string;
  owner: string;
  event: string;
  url: string;
  payload: string;
  status: DeliveryStatus;
  attempts: Generated<number>;
  next_attempt_at: string | null;
  /** JSON array of attempts. */
  log: DefaultedText;
  created_at: string;
  updated_at: string;
}

/** A remembered Idempotency-Key of one tenant and the response it produced. */
export interface IdempotencyKeysTable {
  tenant: string;
  key: string;
  fingerprint: string;
  status: 'in_flight' | 'completed';
  response_status: number | null;
  /** JSON object of the response headers replayed. */
  response_headers: JsonText | null;
  response_body: string | null;
  locked_until: string | null;
  created_at: string;
  expires_at: string;
}

export type SpendSource = 'turn' | 'carried';

/** One row of the append-only spend ledger: what one settled turn cost, kept when its session is deleted. */
export interface SpendLedgerTable {
  id: Generated<number>;
  created_at: string;
  tenant: string;
  key_id: string | null;
  session_id: string | null;
  session_name: string | null;
  turn_id: string | null;
  cost_usd: number;
  source: SpendSource;
}

/** The ledger's sum per account (`tenant:<tenant>` or `key:<key id>`), updated with every ledger row. */
export interface SpendTotalsTable {
  account: string;
  spent_usd: number;
  updated_at: string;
}

/** The head of a conversation a compatible endpoint answered: the session it continues on (src/sessions/conversations.ts). */
export interface CompatConversationsTable {
  session_id: string;
  tenant: string;
  /** The API key's id; '' in open mode. */
  key_id: string;
  /** The client's end user (OpenAI `user`, Anthropic `metadata.user_id`); '' when none. */
  end_user: string;
  /** Chained SHA-256 (hex) of the messages up to and including the session's last answer. */
  digest: string;
  updated_at: string;
  /** 1 when a compatible endpoint opened the session for this conversation (it may be recycled), 0 when named. */
  implicit: ColumnType<number, number | undefined, number>;
}

export type RuleSource = 'set' | 'remembered';

/** A permission rule of a key (session_id null; keyed by the key's tenant) or of a session. */
export interface PermissionRulesTable {
  id: string;
  tenant: string;
  session_id: string | null;
  outcome: 'allow' | 'ask' | 'deny';
  rule: string;
  source: RuleSource;
  /** The key that set it (or whose answer it remembers). */
  created_by: string | null;
  created_at: string;
}

export type ApprovalKind = 'approval' | 'question';
export type ApprovalStatus = 'pending' | 'allowed' | 'denied' | 'answered' | 'expired';

/** A tool call or question that waits (or waited) for a person. */
export interface ApprovalsTable {
  id: string;
  tenant: string;
  session_id: string;
  session_name: string;
  turn_id: string;
  job_id: string | null;
  kind: ApprovalKind;
  tool: string;
  tool_use_id: string | null;
  /** JSON: the tool input (a question's `questions`). */
  input: JsonText;
  /** The ask rule that paused the call. */
  rule: string | null;
  status: ApprovalStatus;
  /** Why it expired or was denied without a person (time-out, restart, interrupted turn). */
  reason: string | null;
  /** JSON: what the person answered (message, updated_input, answers, remember). */
  response: JsonText | null;
  decided_by: string | null;
  deadline: string;
  created_at: string;
  decided_at: string | null;
}

export interface Database {
  compat_conversations: CompatConversationsTable;
  permission_rules: PermissionRulesTable;
  approvals: ApprovalsTable;
  jobs: JobsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  idempotency_keys: IdempotencyKeysTable;
  sessions: SessionsTable;
  messages: MessagesTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  spend_ledger: SpendLedgerTable;
  spend_totals: SpendTotalsTable;
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

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type NewApiKey = Omit<Insertable<ApiKeysTable>, 'created_at' | 'last_used_at' | 'revoked_at'> & {
  created_at?: string;
};

/** An audit row as the repository returns it (detail parsed). */
export type AuditRow = Omit<Selectable<AuditLogTable>, 'detail'> & { detail: JsonObject | null };
export type NewAuditRow = Omit<Insertable<AuditLogTable>, 'id' | 'detail' | 'created_at'> & {
  detail?: JsonObject | null;
  created_at?: string;
};

export type SpendRow = Selectable<SpendLedgerTable>;
export type ConversationHeadRow = Selectable<CompatConversationsTable>;
export type PermissionRuleRow = Selectable<PermissionRulesTable>;
/** An approval as the repository returns it (JSON parsed). */
export type ApprovalRow = Omit<Selectable<ApprovalsTable>, 'input' | 'response'> & {
  input: unknown;
  response: JsonObject | null;
};
