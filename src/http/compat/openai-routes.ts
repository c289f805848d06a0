// POST /v1/chat/completions: the OpenAI Chat Completions API on live sessions, whole or streamed as chat.completion.chunk frames.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TurnResult } from '../../engine/events.js';
import type { ConversationTurn } from '../../sessions/conversations.js';
import { watchClient } from '../routes/chat.js';
import { answerHeaders, startTurn, wantsSteps, type CompatContext } from './context.js';
import { openAiCall } from './openai-request.js';
import type { CompatCall } from './params.js';
import { openFrameStream } from './stream.js';
import {
  eventsOf,
  extension,
  openAiFinish,
  openAiUsage,
  resultOf,
  StepLog,
  whenRunning,
  type Step,
} from './turn-output.js';
import { wireError } from './wire-errors.js';

const completionId = (conv: ConversationTurn) => `chatcmpl-${conv.chat.turn.id}`;
const createdOf = (conv: ConversationTurn) => Math.floor(conv.chat.turn.createdAt / 1000);

async function complete(ctx: CompatContext, request: FastifyRequest, reply: FastifyReply, call: CompatCall) {
  const conv = await startTurn(ctx, request, call);
  const unwatch = watchClient(reply, conv.chat.turn, ctx.config.engine.chatDisconnect === 'interrupt');
  try {
    const result = await resultOf(conv);
    await conv.chat.recorded;
    const { log, text } = StepLog.of(await eventsOf(conv));
    const content = wantsSteps(request) ? text + result.content : result.content;
    await conv.answered(content);
    reply.headers(answerHeaders(conv));
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
      x_claude_code: extension(conv, result, log.steps),
    };
  } finally {
    unwatch();
  }
}

async function streamCompletion(ctx: CompatContext, request: FastifyRequest, reply: FastifyReply, call: CompatCall) {
  const conv = await startTurn(ctx, request, call);
  await whenRunning(conv);
  const turn = conv.chat.turn;
  const out = openFrameStream(reply, answerHeaders(conv), ctx.config.engine.heartbeatMs);
  const base = { id: completionId(conv), object: 'chat.completion.chunk', created: createdOf(conv), model: call.model };
  const chunk = (delta: object, finish: string | null = null, extra: object = {}) =>
    out.write(
      `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], ...extra })}\n\n`,
    );
  const steps = new StepLog();
  const withSteps = wantsSteps(request);
  let sent = '';
  let result: TurnResult | undefined;
  try {
    await chunk({ role: 'assistant', content: '' });
    for await (const { event } of turn.events(-1, out.gone)) {
      const line = steps.add(event);
      const text = event.type === 'text' ? event.text : withSteps ? line : undefined;
      if (text) {
        sent += text;
        await chunk({ content: text });
      }
      if (event.type === 'result') {
        result = event;
        await chunk({}, openAiFinish(event), { x_claude_code: extension(conv, event, steps.steps as Step[]) });
        if (call.includeUsage)
          await out.write(`data: ${JSON.stringify({ ...base, choices: [], usage: openAiUsage(event) })}\n\n`);
      }
      if (event.type === 'error')
        await out.write(`data: ${JSON.stringify(wireError('openai', event.problem, request.id))}\n\n`);
    }
    await out.write('data: [DONE]\n\n');
  } finally {
    out.end();
    if (out.gone.aborted && !turn.finished && ctx.config.engine.chatDisconnect === 'interrupt')
      turn.interrupt('client');
    await conv.chat.recorded;
    await (result ? conv.answered(sent) : conv.failed());
  }
  return reply;
}

export default async function openAiRoutes(app: FastifyInstance, ctx: CompatContext): Promise<void> {
  app.post(
    '/chat/completions',
    {
      config: { audit: 'compat.chat_completions' },
      schema: {
        tags: ['Compatible APIs'],
        summary: 'OpenAI Chat Completions',
        description:
          'The OpenAI Chat Completions API on a live session (docs/compat.md): `X-Session-Name` names the session; without it a re-sent history continues the session that answered it. Errors are OpenAI error objects.',
        body: { type: 'object', additionalProperties: true },
      },
    },
    async (request, reply) => {
      const call = openAiCall(request.body);
      return call.stream ? streamCompletion(ctx, request, reply, call) : complete(ctx, request, reply, call);
    },
  );
}
