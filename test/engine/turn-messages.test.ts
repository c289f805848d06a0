// Unit tests of turn-messages.ts: the SDK messages of a turn (shaped as the CLI sends them) become tool_result events and the outputs tools_used keeps, cut and flagged past their bounds.
import type { SDKMessage, SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { describe, expect, it } from 'vitest';
import { TOOL_OUTPUT_KEPT_CHARS, TURN_TOOL_OUTPUTS_KEPT_CHARS, type TurnEvent } from '../../src/engine/events.js';
import { Turn } from '../../src/engine/turn.js';
import { activeTurn, recordMessage, resultOf, type ActiveTurn } from '../../src/engine/turn-messages.js';

type Message = Exclude<SDKMessage, SDKResultMessage>;

/** An assistant message of the main thread calling the tools given as [id, name, input]. */
function calls(...uses: [string, string, unknown][]): Message {
  return {
    type: 'assistant',
    parent_tool_use_id: null,
    uuid: '00000000-0000-0000-0000-000000000001',
    session_id: 'cli-session',
    message: {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      content: uses.map(([id, name, input]) => ({ type: 'tool_use', id, name, input })),
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1 },
    },
  } as unknown as Message;
}

/** The user message of tool results the CLI sends back, as [tool_use_id, content, is_error]. */
function results(...rs: [string, unknown, boolean?][]): Message {
  return {
    type: 'user',
    parent_tool_use_id: null,
    session_id: 'cli-session',
    message: {
      role: 'user',
      content: rs.map(([id, content, isError]) => ({
        type: 'tool_result',
        tool_use_id: id,
        content,
        ...(isError === undefined ? {} : { is_error: isError }),
      })),
    },
  } as unknown as Message;
}

const success = {
  type: 'result',
  subtype: 'success',
  result: 'done',
  is_error: false,
  num_turns: 2,
  stop_reason: 'end_turn',
  usage: { input_tokens: 1, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
  permission_denials: [],
} as unknown as SDKResultMessage;

function running(): ActiveTurn {
  const turn = new Turn('session-1', 'go');
  turn.begin(1);
  return activeTurn(turn);
}

/** The turn's result from the CLI's result message; the turn ends with it, so its events can be read to the end. */
function finish(a: ActiveTurn) {
  const result = resultOf(a, success, { sessionId: 'cli-session', costUsd: 0, model: 'claude-test' });
  a.turn.finish(result);
  return result;
}

async function eventsOf(a: ActiveTurn): Promise<TurnEvent[]> {
  const out: TurnEvent[] = [];
  for await (const e of a.turn.events(0)) out.push(e.event);
  return out;
}

describe('turn messages: tool outputs', () => {
  it('marks each call with its output and error flag by tool_use id, in the order the calls were made', async () => {
    const a = running();
    recordMessage(
      a,
      calls(
        ['toolu_1', 'Bash', { command: 'echo hi' }],
        ['toolu_2', 'Read', { file_path: '/nope' }],
        ['toolu_3', 'Glob', {}],
      ),
    );
    // The results come back in another order; the third call gets none (the turn was interrupted, say).
    recordMessage(
      a,
      results(['toolu_2', '<tool_use_error>File does not exist.</tool_use_error>', true], ['toolu_1', 'hi', false]),
    );
    const result = finish(a);
    expect(result.tools_used).toEqual([
      { name: 'Bash', input: { command: 'echo hi' }, output: 'hi', is_error: false },
      {
        name: 'Read',
        input: { file_path: '/nope' },
        output: '<tool_use_error>File does not exist.</tool_use_error>',
        is_error: true,
      },
      { name: 'Glob', input: {} },
    ]);
    const events = (await eventsOf(a)).filter((e) => e.type === 'tool_result');
    expect(events).toEqual([
      { type: 'tool_result', id: 'toolu_2', is_error: true, output: expect.stringContaining('File does not exist') },
      { type: 'tool_result', id: 'toolu_1', is_error: false, output: 'hi' },
    ]);
  });

  it('reads block content as the CLI sends it: text blocks joined, an image as [image], no is_error as false', async () => {
    const a = running();
    recordMessage(a, calls(['toolu_1', 'Read', { file_path: 'a.png' }], ['toolu_2', 'mcp__x__y', {}]));
    recordMessage(
      a,
      results(
        ['toolu_1', [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }]],
        [
          'toolu_2',
          [
            { type: 'text', text: 'first' },
            { type: 'text', text: 'second' },
          ],
        ],
      ),
    );
    expect(finish(a).tools_used).toEqual([
      { name: 'Read', input: { file_path: 'a.png' }, output: '[image]', is_error: false },
      { name: 'mcp__x__y', input: {}, output: 'first\nsecond', is_error: false },
    ]);
  });

  it('cuts an over-long output at the per-call bound and flags it; the event keeps its own shorter cut', async () => {
    const a = running();
    const long = 'x'.repeat(TOOL_OUTPUT_KEPT_CHARS + 500);
    recordMessage(a, calls(['toolu_1', 'Bash', { command: 'yes x' }]));
    recordMessage(a, results(['toolu_1', long, false]));
    const [use] = finish(a).tools_used;
    expect(use).toMatchObject({ is_error: false, truncated: true });
    expect(use!.output).toBe(long.slice(0, TOOL_OUTPUT_KEPT_CHARS));
    const event = (await eventsOf(a)).find((e) => e.type === 'tool_result');
    expect(event).toMatchObject({ output: expect.stringMatching(/… \(16884 characters\)$/) });
  });

  it('does not split a surrogate pair where it cuts', async () => {
    const a = running();
    const text = 'a'.repeat(TOOL_OUTPUT_KEPT_CHARS - 1) + '😀tail';
    recordMessage(a, calls(['toolu_1', 'Bash', {}]));
    recordMessage(a, results(['toolu_1', text]));
    const [use] = finish(a).tools_used;
    expect(use!.output).toBe('a'.repeat(TOOL_OUTPUT_KEPT_CHARS - 1));
    expect(use!.truncated).toBe(true);
  });

  it('bounds the outputs of the whole turn: later calls keep what is left, then an empty output, all flagged', async () => {
    const a = running();
    const per = TOOL_OUTPUT_KEPT_CHARS;
    const whole = TURN_TOOL_OUTPUTS_KEPT_CHARS / per; // calls whose full outputs fill the turn's bound
    const n = whole + 2;
    const ids = Array.from({ length: n }, (_, i) => `toolu_${i}`);
    recordMessage(a, calls(...ids.map((id): [string, string, unknown] => [id, 'Bash', {}])));
    // The first call is short, so the call that reaches the bound keeps only part of its output.
    recordMessage(
      a,
      results(['toolu_0', 'short', false], ...ids.slice(1).map((id): [string, unknown] => [id, 'y'.repeat(per)])),
    );
    const used = finish(a).tools_used;
    const kept = used.reduce((sum, u) => sum + (u.output?.length ?? 0), 0);
    expect(kept).toBe(TURN_TOOL_OUTPUTS_KEPT_CHARS);
    expect(used[0]).toMatchObject({ output: 'short', is_error: false });
    expect(used[0]!.truncated).toBeUndefined();
    expect(used.slice(1, whole).every((u) => u.output?.length === per && u.truncated === undefined)).toBe(true);
    expect(used[whole]).toMatchObject({ truncated: true, is_error: false });
    expect(used[whole]!.output).toHaveLength(per - 'short'.length);
    expect(used[whole + 1]).toEqual({ name: 'Bash', input: {}, output: '', is_error: false, truncated: true });
    // Every event still carries its output: the bound is on what the result keeps.
    expect((await eventsOf(a)).filter((e) => e.type === 'tool_result')).toHaveLength(n);
  });

  it("ignores a subagent's tool results and a result for a call it never saw", async () => {
    const a = running();
    recordMessage(a, calls(['toolu_1', 'Task', { prompt: 'p' }]));
    recordMessage(a, { ...results(['toolu_1', 'inner']), parent_tool_use_id: 'toolu_1' } as Message);
    recordMessage(a, results(['toolu_unknown', 'stray']));
    expect(finish(a).tools_used).toEqual([{ name: 'Task', input: { prompt: 'p' } }]);
  });
});
