// The OpenAPI form of a turn's SSE stream: one frame schema per event type, built from the engine's event schemas.
import { Type } from 'typebox';
import { TURN_EVENT_SCHEMAS } from '../../engine/events.js';
import { SEED_FRAME_DATA } from '../seed-sse.js';

/** One SSE frame per event type: `id:` its number, `event:` its type, `data:` the event as JSON. */
export const TurnEventFrameSchema = Type.Union(
  TURN_EVENT_SCHEMAS.map((event) =>
    Type.Object(
      {
        id: Type.Integer({ minimum: 1, description: 'The `id:` line: the event number, sequential per session.' }),
        event: Type.Literal(event.properties.type.const, { description: 'The `event:` line: the event type.' }),
        data: event,
      },
      { title: `${event.properties.type.const} frame`, description: (event as { description?: string }).description },
    ),
  ),
  { title: 'TurnEventFrame' },
);

/** The frame schema as a shared schema (`components/schemas/TurnEventFrame`), added once by the OpenAPI plugin. */
export const SharedTurnEventFrameSchema = { ...TurnEventFrameSchema, $id: 'TurnEventFrame' };

/** The Python seed's frames a chat stream adds (`?events=all`, the default) or sends alone (`?events=seed`). */
const SeedFrameSchemas = Object.entries(SEED_FRAME_DATA).map(([name, data]) =>
  Type.Object(
    {
      id: Type.Optional(
        Type.Integer({
          minimum: 1,
          description: 'With `?events=seed` only: the id of the event the frame comes from. Beside ours it has none.',
        }),
      ),
      event: Type.Literal(name, { description: 'The `event:` line: the seed event name.' }),
      data,
    },
    { title: `${name} frame (Python seed)`, description: (data as { description?: string }).description },
  ),
);

/** A chat stream's frames: every turn event's, and the seed's. */
export const ChatEventFrameSchema = Type.Union([...TurnEventFrameSchema.anyOf, ...SeedFrameSchemas], {
  title: 'ChatEventFrame',
});
export const SharedChatEventFrameSchema = { ...ChatEventFrameSchema, $id: 'ChatEventFrame' };

/** The 200 response of a chat stream: the turn's events and the Python seed's (see the `events` query). */
export function chatEventStream(description: string) {
  return {
    description:
      `${description}: \`text/event-stream\`, one frame per event (\`id:\`, \`event:\` and the JSON event as \`data:\`) and, ` +
      "unless `events=native`, the Python seed's `assistant`, `tool` and `done` frames beside them (no `id:`); " +
      'lines starting with `:` are comments (`: ping` heartbeats).',
    content: { 'text/event-stream': { schema: { $ref: 'ChatEventFrame#' } } },
  };
}

/** The 200 response of a route that streams a turn's events. */
export function turnEventStream(description: string) {
  return {
    description:
      `${description}: \`text/event-stream\`, one frame per event (\`id:\`, \`event:\` and the JSON event as \`data:\`); ` +
      'lines starting with `:` are comments (`: ping` heartbeats).',
    content: { 'text/event-stream': { schema: { $ref: 'TurnEventFrame#' } } },
  };
}
