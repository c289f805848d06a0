// Prototype, not the engine: what a new session's first turn would cost on a spare process started ahead of time (SDK `prewarm()`),
// against a cold `query()` with the same options (what the engine does today, without HTTP).
import { prewarm, query, type Options, type Query, type SpareProcess } from '@anthropic-ai/claude-agent-sdk';
import { InputChannel } from '../src/engine/input-channel.js';
import { CLI_PATH } from '../test/support/cli-env.js';

/** Tools the service allows by default (CLAUDE_ALLOWED_TOOLS). */
const TOOLS = ['Read', 'Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'Glob', 'Grep', 'LS', 'Bash', 'TodoWrite'];

/** Host-level options shaped like the engine's (src/engine/options.ts): fixed for a spare's life. */
export function hostOptions(env: Record<string, string>): Options {
  return {
    env: { ...env, CLAUDE_AGENT_SDK_CLIENT_APP: 'claude-code-api-bench' },
    pathToClaudeCodeExecutable: CLI_PATH,
    maxTurns: 25,
    tools: TOOLS,
    allowedTools: TOOLS,
    systemPrompt: { type: 'preset', preset: 'claude_code' },
    includePartialMessages: true,
  };
}

export interface SdkTurn {
  /** From claim() / query() to the first text delta. */
  firstTextMs: number;
  /** From claim() / query() to the result message. */
  resultMs: number;
}

/** Reads one turn off a streaming-input query, then closes its input and waits for the process to end. */
async function timeTurn(q: Query, input: InputChannel, t0: number): Promise<SdkTurn> {
  let firstTextMs: number | undefined;
  let resultMs: number | undefined;
  try {
    for await (const m of q) {
      if (
        m.type === 'stream_event' &&
        firstTextMs === undefined &&
        m.event.type === 'content_block_delta' &&
        m.event.delta.type === 'text_delta'
      ) {
        firstTextMs = performance.now() - t0;
      } else if (m.type === 'result') {
        resultMs = performance.now() - t0;
        if (m.is_error) throw new Error(`turn failed: ${m.subtype}`);
        input.close(); // ends the process; the loop ends when it has gone
      }
    }
  } finally {
    input.close();
    q.close();
  }
  if (firstTextMs === undefined || resultMs === undefined) throw new Error('turn ended without text or result');
  return { firstTextMs, resultMs };
}

/** A parked spare, ready to be claimed by the next new session. */
export function startSpare(env: Record<string, string>): Promise<SpareProcess> {
  return prewarm({ options: { ...hostOptions(env), permissionMode: 'acceptEdits' } });
}

/** A new session's first turn on a claimed spare, timed from the claim. */
export async function claimedFirstTurn(spare: SpareProcess, cwd: string, message: string): Promise<SdkTurn> {
  const input = new InputChannel();
  input.push(message);
  const t0 = performance.now();
  const q = spare.claim({ prompt: input, options: { cwd, permissionMode: 'acceptEdits' } });
  spare.claimed.catch(() => input.close());
  return timeTurn(q, input, t0);
}

/** A new session's first turn on a cold `query()` with the same options, as the engine starts one today. */
export async function coldQueryFirstTurn(env: Record<string, string>, cwd: string, message: string): Promise<SdkTurn> {
  const input = new InputChannel();
  input.push(message);
  const t0 = performance.now();
  const q = query({ prompt: input, options: { ...hostOptions(env), cwd, permissionMode: 'acceptEdits' } });
  return timeTurn(q, input, t0);
}
