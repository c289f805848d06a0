// POST /v1/chat/completions: the OpenAI Chat Completions API on live sessions, whole or streamed as chat.completion.chunk frames.
import type { FastifyInstance } from 'fastify';
import type { ConversationTurn } from '../../sessions/conversations.js';
import type { FrameStream } from '../sse.js';
import { streamAnswer, wholeAnswer, type StreamFrames } from './answer.js';
import type { CompatContext } from './context.js';
import { openAiCall } from './openai-request.js';
import type { CompatCall } from './params.js';
import { extension, openAiFinish, openAiUsage } from './turn-output.js';
import { COMPAT_TURN_ERRORS, wireAnswer, wireError, wireErrorResponses } from './wire-errors.js';

const completionId = (conv: ConversationTurn) => `chatcmpl-${conv.chat.turn.id}`;
const createdOf = (conv: ConversationTurn) => Math.floor(conv.chat.turn.createdAt / 1000);

/** `chat.completion.chunk` frames, ended by `data: [DONE]`; usage last when `stream_options.include_usage`. */
function chunkFrames(call: CompatCall, requestId: string) {
  return (conv: ConversationTurn, out: FrameStream): StreamFrames => {
    const base = {
      id: completionId(conv),
      object: 'chat.completion.chunk',
      created: createdOf(conv),
      model: call.model,
    };
    const data = (value: object) => out.write(`data: ${JSON.stringify(value)}\n\n`);
    const chunk = (delta: object, finish: string | null = null, extra: object = {}) =>
      data({ ...base, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], ...extra });
    return {
      start: () => chunk({ role: 'assistant', content: '' }),
      text: (content) => chunk({ content }),
      async result(result, steps) {
        await chunk({}, openAiFinish(result), { x_claude_code: extension(conv, result, steps) });
        if (call.includeUsage) await data({ ...base, choices: [], usage: openAiUsage(result) });
      },
      error: (problem) => data(wireError('openai', problem, requestId)),
      end: () => out.write('data: [DONE]\n\n'),
    };
  };
}

export default async function openAiRoutes(app: FastifyInstance, ctx: CompatContext): Promise<void> {
  app.post(
    '/chat/completions',
    {
      config: { audit: 'compat.chat_completions', forwardsToOwner: true },
      schema: {
        tags: ['Compatible APIs'],
        operationId: 'createChatCompletion',
        summary: 'OpenAI Chat Completions',
        description:
          'The OpenAI Chat Completions API on a live session (docs/compat.md): `X-Session-Name` names the session; without it a re-sent history continues the session that answered it. Errors are OpenAI error objects.',
        body: { type: 'object', additionalProperties: true },
        response: {
          200: wireAnswer('A chat.completion object, or chat.completion.chunk events', true),
          ...wireErrorResponses(...COMPAT_TURN_ERRORS),
        },
      },
    },
    async (request, reply) => {
      const call = openAiCall(request.body);
      if (call.stream) return streamAnswer(ctx, request, reply, call, chunkFrames(call, request.id));
      const { conv, result, content, steps } = await wholeAnswer(ctx, request, reply, call);
      return {
        id: completionId(conv),
        object: 'chat.completion',
        created: createdOf(conv),
        model: result.model ?? call.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content, refusal: null, annotations: [] },
            finish_reason: openAiFinish(result),
            logprobs: null,
          },
        ],
        usage: openAiUsage(result),
        system_fingerprint: null,
        x_claude_code: extension(conv, result, steps),
      };
    },
  );
}
