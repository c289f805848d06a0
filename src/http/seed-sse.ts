// The Python seed's SSE vocabulary (`assistant`, `tool`, `done`, `error`) derived from a turn's events, beside ours or alone.
import { Type } from 'typebox';
import type { NumberedEvent, TurnEvent } from '../engine/events.js';
import { formatEvent } from './sse.js';

/** Which vocabulary a chat stream speaks: ours and the seed's (the default), ours only, or the seed's only. */
export const CHAT_EVENT_VOCABULARIES = ['all', 'native', 'seed'] as const;
export type ChatEventVocabulary = (typeof CHAT_EVENT_VOCABULARIES)[number];

export const ChatEventsQuery = Type.Object({
  events: Type.Optional(
    Type.Union([Type.Literal('all'), Type.Literal('native'), Type.Literal('seed')], {
      default: 'all',
      description:
        "`all` (default): this server's events and, beside them, the Python seed's `assistant`, `tool` and `done` frames (without an `id:`, just before the event they come from), the `error` frame carrying both shapes; `native`: this server's events only; `seed`: the seed's frames only (each with the id of the event it comes from).",
    }),
  ),
  last_event_id: Type.Optional(
    Type.String({
      description:
        'As the Last-Event-ID header, for clients that cannot send it (a value that is not a number is ignored).',
    }),
  ),
});

/** The seed's frame data, by event name. */
export const SEED_FRAME_DATA = {
  assistant: Type.Object(
    { content: Type.String(), tool_name: Type.Null() },
    {
      description:
        "The Python seed's event: a block of Claude's answer text (the `text` deltas up to a tool call or the end).",
    },
  ),
  tool: Type.Object(
    { content: Type.Null(), tool_name: Type.String() },
    { description: "The Python seed's event: Claude calls this tool (beside `tool_use`)." },
  ),
  done: Type.Object(
    {
      session_id: Type.String(),
      content: Type.String(),
      cost: Type.Number(),
      duration_ms: Type.Integer(),
      num_turns: Type.Integer(),
      tools_used: Type.Array(Type.Object({ name: Type.String(), input: Type.Unknown() })),
    },
    { description: "The Python seed's event: the turn's summary (beside `result`, just before it)." },
  ),
} as const;

type SeedName = keyof typeof SEED_FRAME_DATA;

/** One SSE frame; `id` undefined writes none (the client's last event id stays that of the event before). */
function frame(event: string, data: unknown, id: number | undefined): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The error event with the seed's `error` member (the problem's detail) beside our `problem`. */
function withSeedError(event: Extract<TurnEvent, { type: 'error' }>) {
  return { ...event, error: event.problem.detail };
}

/**
 * A framer for one stream: each call takes the next event and answers the frames to write for it. It keeps the text
 * deltas since the last tool call, so the seed's `assistant` frame carries a whole block of text, as the seed's did.
 */
export function chatFramer(vocabulary: ChatEventVocabulary): (e: NumberedEvent) => string[] {
  if (vocabulary === 'native') return (e) => [formatEvent(e)];
  let text = '';
  return (e) => {
    const seedId = vocabulary === 'seed' ? e.id : undefined;
    const seed: Array<[SeedName | 'error', unknown]> = [];
    const flush = () => {
      if (text !== '') seed.push(['assistant', { content: text, tool_name: null }]);
      text = '';
    };
    const { event } = e;
    switch (event.type) {
      case 'text':
        text += event.text;
        break;
      case 'tool_use':
        flush();
        seed.push(['tool', { content: null, tool_name: event.name }]);
        break;
      case 'result':
        flush();
        seed.push([
          'done',
          {
            session_id: event.session_id,
            content: event.content,
            cost: event.cost_usd,
            duration_ms: event.duration_ms,
            num_turns: event.num_turns,
            tools_used: event.tools_used.map((t) => ({ name: t.name, input: t.input })),
          },
        ]);
        break;
      case 'error':
        flush();
        // One `error` frame serves both vocabularies: ours reads `problem`, the seed's `error`.
        return [...seed.map(([name, data]) => frame(name, data, seedId)), frame('error', withSeedError(event), e.id)];
      default:
        break;
    }
    const derived = seed.map(([name, data]) => frame(name, data, seedId));
    return vocabulary === 'seed' ? derived : [...derived, formatEvent(e)];
  };
}
