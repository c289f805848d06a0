// Stateless chat clients on live sessions: the session a request names, or the one whose last answer its re-sent history extends.
import { createHash, randomBytes } from 'node:crypto';
import type { SessionOptions } from '../engine/options.js';
import { ProblemError } from '../problems.js';
import type { ConversationScope, Store } from '../store/index.js';
import type { ConversationHeadRow, SessionRow } from '../store/schema.js';
import { pickOptions, type ChatCaller, type ChatTurn, type SessionService } from './service.js';

/** One message of a client's conversation, reduced to its text. */
export interface ConversationMessage {
  role: 'user' | 'assistant';
  text: string;
}

/** A compatible endpoint's request in the terms of the sessions layer. */
export interface ConversationRequest {
  /** The whole conversation as the client sent it; ends with one or more user messages. */
  messages: ConversationMessage[];
  /** Options of a new session, and this turn's overrides (model, system prompt, output tokens, effort). */
  options: SessionOptions;
  /** A template a new session follows (`model: "template:<name>"`). */
  template?: string;
  /** The session the client names (X-Session-Name); created on first use. */
  sessionName?: string;
  /** The client's end user: implicit matching never crosses end users. */
  endUser?: string;
  /**
   * Runs once the session is known, before its turn is queued, and may refuse it (several nodes: another node runs
   * the session, and the caller sends the request there); the conversation is then left as it was.
   */
  beforeTurn?: (session: SessionRow) => Promise<void>;
}

/** A turn started for a conversation, and what to do once its answer is known. */
export interface ConversationTurn {
  session: SessionRow;
  /** The session was created by this request. */
  created: boolean;
  /** The session was found from the history (no name given). */
  continued: boolean;
  /** What Claude Code was sent. */
  message: string;
  chat: ChatTurn;
  /** Records the answer the client got, so a request re-sending this history plus a new message continues here. */
  answered(content: string): Promise<void>;
  /** The turn failed: a retry of the same history may continue the same session. */
  failed(): Promise<void>;
}

const DIGEST_SEED = 'claude-code-api/conversation/v1';

/** Chained SHA-256 over the messages: `digests[i]` covers the first i messages (text trimmed). */
export function prefixDigests(messages: readonly ConversationMessage[]): string[] {
  let current = createHash('sha256').update(DIGEST_SEED).digest();
  const out = [current.toString('hex')];
  for (const m of messages) {
    current = createHash('sha256').update(current).update(`${m.role}\0${m.text.trim()}`).digest();
    out.push(current.toString('hex'));
  }
  return out;
}

export function digestOf(messages: readonly ConversationMessage[]): string {
  return prefixDigests(messages).at(-1)!;
}

/** The messages up to the last answer, and the user messages after it (what this request asks). */
export function splitConversation(messages: readonly ConversationMessage[]): {
  earlier: ConversationMessage[];
  latest: string[];
} {
  let cut = messages.length;
  while (cut > 0 && messages[cut - 1]!.role === 'user') cut--;
  const latest = messages.slice(cut).map((m) => m.text);
  if (latest.length === 0) {
    throw new ProblemError(
      400,
      'conversation-invalid',
      'Invalid conversation',
      'The last message must be a user message: it is what this request asks.',
    );
  }
  return { earlier: messages.slice(0, cut), latest };
}

/** The first prompt of a new session for a history it never saw: the earlier turns, framed as context, then the question. */
export function framedHistory(earlier: readonly ConversationMessage[], latest: readonly string[]): string {
  const turns = earlier.map((m) => `<${m.role}>\n${m.text}\n</${m.role}>`).join('\n');
  return [
    'This conversation began elsewhere. Its earlier messages, as the client sent them, are below for context only:',
    '<conversation_history>',
    turns,
    '</conversation_history>',
    '',
    'The new message to answer:',
    '',
    latest.join('\n\n'),
  ].join('\n');
}

/** A fresh name for a session opened implicitly; it is an ordinary session (listed, deletable). */
function implicitName(): string {
  return `chat-${randomBytes(6).toString('hex')}`;
}

export class ConversationService {
  constructor(
    private readonly sessions: SessionService,
    private readonly store: Store,
    /** MAX_MESSAGE_CHARS: the longest message a turn may send to Claude Code. */
    private readonly maxMessageChars: number,
  ) {}

  /** Finds or creates the session for a conversation and queues its turn. Nothing is left changed if it is refused. */
  async start(tenant: string, caller: ChatCaller, req: ConversationRequest): Promise<ConversationTurn> {
    const { earlier, latest } = splitConversation(req.messages);
    const scope: ConversationScope = { tenant, key_id: caller.actor?.keyId ?? '', end_user: req.endUser ?? '' };
    let claimed: ConversationHeadRow | undefined;
    let session: SessionRow | undefined;
    let created = false;
    if (req.sessionName !== undefined) {
      session = await this.store.sessions.findByName(tenant, req.sessionName);
      if (session && req.template !== undefined && session.template !== req.template) {
        throw new ProblemError(
          409,
          'template-mismatch',
          'Template mismatch',
          `Session ${JSON.stringify(session.name)} follows template ${JSON.stringify(session.template)}, not ${JSON.stringify(req.template)}.`,
        );
      }
    } else if (earlier.length > 0) {
      ({ session, claimed } = await this.claimHead(scope, digestOf(earlier), req.template));
    }
    // A session that has answered before holds the conversation; a new (or unused) one gets the history framed.
    const holdsHistory = session !== undefined && session.turns > 0;
    const message = holdsHistory || earlier.length === 0 ? latest.join('\n\n') : framedHistory(earlier, latest);
    if (message.length > this.maxMessageChars) {
      if (claimed) await this.store.conversations.setHead(claimed);
      throw new ProblemError(
        413,
        'message-too-long',
        'Message too long',
        `What Claude Code would be sent is ${message.length} characters, more than MAX_MESSAGE_CHARS (${this.maxMessageChars})${holdsHistory ? '' : ': a history this server does not know is sent whole to a new session'}.`,
      );
    }
    if (!session) {
      const input = {
        name: req.sessionName ?? implicitName(),
        ...this.sessionOptions(req),
        ...(req.template !== undefined && { template: req.template }),
      };
      try {
        session = await this.sessions.create(tenant, input);
      } catch (err) {
        // A key at MAX_SESSIONS_PER_USER makes room by recycling the least recently used session opened this way.
        if (!(isSessionLimit(err) && (await this.recycleOne(tenant)))) {
          if (claimed) await this.store.conversations.setHead(claimed);
          throw err;
        }
        session = await this.sessions.create(tenant, input);
      }
      created = true;
    }
    const restore = () => (claimed ? this.store.conversations.setHead(claimed) : Promise.resolve());
    let chat: ChatTurn;
    try {
      await req.beforeTurn?.(session);
      chat = await this.sessions.chat(tenant, session.name, { message, ...pickOptions(req.options) }, caller);
    } catch (err) {
      await restore();
      if (created) await this.sessions.remove(tenant, session.name, true);
      throw err;
    }
    const row = session;
    return {
      session: row,
      created,
      continued: claimed !== undefined,
      message,
      chat,
      answered: (content) =>
        this.store.conversations.setHead({
          ...scope,
          session_id: row.id,
          digest: digestOf([...req.messages, { role: 'assistant', text: content }]),
          // Opened here, or continued from such a head without the client naming it: it stays recyclable.
          implicit: req.sessionName === undefined && (created || claimed?.implicit === 1) ? 1 : 0,
        }),
      failed: restore,
    };
  }

  /**
   * Deletes (workspace and all) the sessions compatible endpoints opened by themselves that have had no turn for
   * `idleMs`, a batch at a time; returns how many. A session with a turn running or waiting is left alone.
   */
  async sweepIdle(idleMs: number, batch = 100): Promise<number> {
    const before = new Date(Date.now() - idleMs).toISOString();
    let removed = 0;
    for (const head of await this.store.conversations.implicitHeads({ before }, batch))
      if (await this.recycle(head)) removed++;
    return removed;
  }

  /** Makes room for one more session of `tenant`: recycles its least recently answered implicit session, if one is idle. */
  private async recycleOne(tenant: string): Promise<boolean> {
    for (const head of await this.store.conversations.implicitHeads({ tenant }, 20))
      if (await this.recycle(head)) return true;
    return false;
  }

  /** Takes the head (so no request continues it meanwhile) and deletes its session; false if it is busy or gone. */
  private async recycle(head: ConversationHeadRow): Promise<boolean> {
    if (this.sessions.liveness(head.session_id).busy) return false;
    if (!(await this.store.conversations.claim(head.session_id, head.digest))) return false;
    const session = await this.store.sessions.findById(head.session_id);
    if (!session) return false;
    try {
      await this.sessions.remove(session.owner, session.name, true);
      return true;
    } catch (err) {
      await this.store.conversations.setHead(head);
      throw err;
    }
  }

  /** The live session whose head is this history, taken for this request alone; none when unknown or another template. */
  private async claimHead(
    scope: ConversationScope,
    digest: string,
    template: string | undefined,
  ): Promise<{ session?: SessionRow; claimed?: ConversationHeadRow }> {
    const head = await this.store.conversations.findHead(scope, digest);
    if (!head) return {};
    const session = await this.store.sessions.findById(head.session_id);
    if (!session || session.owner !== scope.tenant || (template !== undefined && session.template !== template))
      return {};
    if (!(await this.store.conversations.claim(head.session_id, digest))) return {};
    return { session, claimed: head };
  }

  private sessionOptions(req: ConversationRequest): SessionOptions {
    const { model, system_prompt } = req.options;
    return pickOptions({ model, system_prompt });
  }
}

const isSessionLimit = (err: unknown) => err instanceof ProblemError && err.slug === 'session-limit';
