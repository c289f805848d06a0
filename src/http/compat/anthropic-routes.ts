// POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages API on live sessions, whole or streamed as its SSE events.
import type { FastifyInstance } from 'fastify';
import type { TurnResult } from '../../engine/events.js';
import type { ConversationTurn } from '../../sessions/conversations.js';
import type { FrameStream } from '../sse.js';
import { anthropicCall, countCall } from './anthropic-request.js';
import { streamAnswer, wholeAnswer, type StreamFrames } from './answer.js';
import type { CompatContext } from './context.js';
import { chooseModel } from './models.js';
import type { CompatCall } from './params.js';
import { anthropicStop, anthropicUsage, extension } from './turn-output.js';
import { COMPAT_TURN_ERRORS, wireAnswer, wireError, wireErrorResponses } from './wire-errors.js';

const messageId = (conv: ConversationTurn) => `msg_${conv.chat.turn.id.replace(/-/g, '')}`;

function message(
  conv: ConversationTurn,
  call: CompatCall,
  content: string,
  result: TurnResult | undefined,
  stopSequence?: string,
) {
  return {
    id: messageId(conv),
    type: 'message',
    role: 'assistant',
    model: result?.model ?? call.model,
    content: result ? [{ type: 'text', text: content }] : [],
    stop_reason: result ? anthropicStop(result, stopSequence) : null,
    stop_sequence: stopSequence ?? null,
    usage: anthropicUsage(result),
  };
}

/** The Messages stream: message_start, one text block's start/deltas/stop, message_delta, message_stop. */
function eventFrames(call: CompatCall, requestId: string) {
  return (conv: ConversationTurn, out: FrameStream): StreamFrames => {
    const send = (type: string, data: object) =>
      out.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    return {
      async start() {
        await send('message_start', { message: message(conv, call, '', undefined) });
        await send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
        await send('ping', {});
      },
      text: (text) => send('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }),
      async result(result, steps, stopSequence) {
        await send('content_block_stop', { index: 0 });
        await send('message_delta', {
          delta: { stop_reason: anthropicStop(result, stopSequence), stop_sequence: stopSequence ?? null },
          usage: anthropicUsage(result),
          x_claude_code: extension(conv, result, steps),
        });
        await send('message_stop', {});
      },
      error: (problem) => send('error', { error: wireError('anthropic', problem, requestId).error as object }),
      end: async () => undefined,
    };
  };
}

export default async function anthropicRoutes(app: FastifyInstance, ctx: CompatContext): Promise<void> {
  app.post(
    '/messages',
    {
      config: { audit: 'compat.messages', forwardsToOwner: true },
      schema: {
        tags: ['Compatible APIs'],
        operationId: 'createMessage',
        summary: 'Anthropic Messages',
        description:
          'The Anthropic Messages API on a live session (docs/compat.md): `X-Session-Name` names the session; without it a re-sent history continues the session that answered it. Errors are Anthropic error objects.',
        body: { type: 'object', additionalProperties: true },
        response: {
          200: wireAnswer('A message object, or message stream events', true),
          ...wireErrorResponses(...COMPAT_TURN_ERRORS),
        },
      },
    },
    async (request, reply) => {
      const call = anthropicCall(request.body);
      if (call.stream) return streamAnswer(ctx, request, reply, call, eventFrames(call, request.id));
      const { conv, result, content, steps, stopSequence } = await wholeAnswer(ctx, request, reply, call);
      return { ...message(conv, call, content, result, stopSequence), x_claude_code: extension(conv, result, steps) };
    },
  );

  app.post(
    '/messages/count_tokens',
    {
      config: { audit: false },
      schema: {
        tags: ['Compatible APIs'],
        operationId: 'countMessageTokens',
        summary: 'Anthropic count_tokens',
        description:
          "Counts a Messages request's input tokens: exact through the Messages API with Claude Code's own credentials, else an estimate (docs/compat.md).",
        body: { type: 'object', additionalProperties: true },
        response: {
          200: wireAnswer('`{ input_tokens }`', false),
          ...wireErrorResponses(400, 401, 413, 415, 422, 429),
        },
      },
    },
    async (request) => {
      const { model, system, messages } = countCall(request.body);
      const choice = chooseModel(model, ctx.config.claude, ctx.templates);
      const counted = await ctx.tokens.count({ ...('model' in choice && { model: choice.model }), system, messages });
      return { input_tokens: counted.input_tokens };
    },
  );
}
