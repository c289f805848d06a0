// The OpenAPI form of a turn's SSE stream: one frame schema per event type, built from the engine's event schemas.
import { Type } from 'typebox';
import { TURN_EVENT_SCHEMAS } from '../../engine/events.js';

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

/** The 200 response of a route that streams a turn's events. */
export function turnEventStream(description: string) {
  return {
    description:
      `${description}: \`text/event-stream\`, one frame per event (\`id:\`, \`event:\` and the JSON event as \`data:\`); ` +
      'lines starting with `:` are comments (`: ping` heartbeats).',
    content: { 'text/event-stream': { schema: { $ref: 'TurnEventFrame#' } } },
  };
}
