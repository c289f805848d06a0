// What a chat turn leaves in history and the session's totals: the user's message when it starts, its outcome when it ends, and an interrupted outcome for a turn a stopped server left open.
import type { TurnResult } from '../engine/events.js';
import type { Turn } from '../engine/turn.js';
import { problemType } from '../problems.js';
import { auditTurn, type Actor } from '../security/audit.js';
import type { FencedOutcome, LeaseEpoch, Store } from '../store/index.js';

/**
 * Closes the turns a previous run of the server left open (it stopped mid-turn): each gets an assistant message
 * with status `interrupted`, so history never shows a question without an outcome. Returns how many.
 */
export async function closeUnfinishedTurns(store: Store): Promise<number> {
  const open = await store.messages.unanswered();
  for (const user of open) {
    await store.messages.insert({
      session_id: user.session_id,
      turn_id: user.turn_id,
      role: 'assistant',
      content: '',
      status: 'interrupted',
      error: {
        type: problemType('server-restarted'),
        title: 'Server restarted',
        status: 503,
        detail: 'The server stopped before this turn ended.',
      },
    });
  }
  return open.length;
}

/** The user's message of a turn that starts (`fenced`: a newer owner holds the session; nothing was written). */
export async function recordTurnStart(
  store: Store,
  sessionId: string,
  turn: Turn,
  epoch: LeaseEpoch,
): Promise<FencedOutcome> {
  return store.fenced.appendMessages(
    sessionId,
    [{ session_id: sessionId, turn_id: turn.id, role: 'user', content: turn.message }],
    epoch,
  );
}

/**
 * The outcome of a turn that ended (its result, or what it produced before its error) and the session's totals, in
 * one transaction fenced on `epoch`; then its audit rows (the tool calls happened, whoever records the turn).
 */
export async function recordTurnEnd(
  store: Store,
  sessionId: string,
  turn: Turn,
  actor: Actor | undefined,
  epoch: LeaseEpoch,
): Promise<FencedOutcome> {
  const result: TurnResult | undefined = turn.result ?? turn.partial;
  const problem = turn.error?.toProblem();
  const outcome = await store.fenced.endTurn(
    sessionId,
    {
      session_id: sessionId,
      turn_id: turn.id,
      role: 'assistant',
      content: result?.content ?? '',
      status: result?.status ?? (turn.error?.kind === 'timeout' ? 'timeout' : 'error'),
      tools_used: result?.tools_used ?? null,
      cost_usd: result?.cost_usd ?? 0,
      duration_ms: result?.duration_ms ?? Date.now() - turn.createdAt,
      num_turns: result?.num_turns ?? 0,
      usage: result ? { ...result.usage } : null,
      model: result?.model ?? null,
      error: problem ? { ...problem } : null,
    },
    {
      costUsd: result?.cost_usd ?? 0,
      inputTokens: result?.usage.input_tokens ?? 0,
      outputTokens: result?.usage.output_tokens ?? 0,
      cacheReadTokens: result?.usage.cache_read_input_tokens ?? 0,
      cacheCreationTokens: result?.usage.cache_creation_input_tokens ?? 0,
      claudeCostTotal: turn.claudeCostTotal ?? 0,
      claudeSessionId: result?.session_id ?? null,
      lastEventId: turn.lastEventId,
      at: new Date().toISOString(),
    },
    epoch,
  );
  await auditTurnEnd(store, sessionId, turn, actor);
  return outcome;
}

/** The audit rows of a turn's tool calls (written whoever records the turn: the calls happened). */
export async function auditTurnEnd(
  store: Store,
  sessionId: string,
  turn: Turn,
  actor: Actor | undefined,
): Promise<void> {
  await auditTurn(store, sessionId, turn.id, turn.result ?? turn.partial, actor);
}
