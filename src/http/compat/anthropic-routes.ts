// POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages API on live sessions, whole or streamed as its SSE events.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TurnResult } from '../../engine/events.js';
import type { ConversationTurn } from '../../sessions/conversations.js';
import { watchClient } from '../routes/chat.js';
import { anthropicCall, countCall } from './anthropic-request.js';
import { answerHeaders, startTurn, wantsSteps, type CompatContext } from './context.js';
import { chooseModel } from './models.js';
import type { CompatCall } from './params.js';
import { openFrameStream } from './stream.js';
import { anthropicStop, anthropicUsage, eventsOf, extension, resultOf, StepLog, whenRunning } from './turn-output.js';
import { wireError } from './wire-errors.js';

const messageId = (conv: ConversationTurn) => `msg_${conv.chat.turn.id.replace(/-/g, '')}`;

function message(conv: ConversationTurn, call: CompatCall, content: string, result: TurnResult | undefined) {
  return {
    id: messageId(conv),
    type: 'message',
    role: 'assistant',
    model: result?.model ?? call.model,
    content: result ? [{ type: 'text', text: content }] : [],
    stop_reason: result ? anthropicStop(result) : null,
    stop_sequence: null,
    usage: anthropicUsage(result),
  };
}

async function create(ctx: CompatContext, request: FastifyRequest, reply: FastifyReply, call: CompatCall) {
  const conv = await startTurn(ctx, request, call);
  const unwatch = watchClient(reply, conv.chat.turn, ctx.config.engine.chatDisconnect === 'interrupt');
  try {
    const result = await resultOf(conv);
    await conv.chat.recorded;
    const { log, text } = StepLog.of(await eventsOf(conv));
    const content = wantsSteps(request) ? text + result.content : result.content;
    await conv.answered(content);
    reply.headers(answerHeaders(conv));
    return { ...message(conv, call, content, result), x_claude_code: extension(conv, result, log.steps) };
  } finally {
    unwatch();
  }
}

async function stream(ctx: CompatContext, request: FastifyRequest, reply: FastifyReply, call: CompatCall) {
  const conv = await startTurn(ctx, request, call);
  await whenRunning(conv);
  const turn = conv.chat.turn;
  const out = openFrameStream(reply, answerHeaders(conv), ctx.config.engine.heartbeatMs);
  const send = (type: string, data: object) =>
    out.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const steps = new StepLog();
  const withSteps = wantsSteps(request);
  let sent = '';
  let result: TurnResult | undefined;
  try {
    await send('message_start', { message: message(conv, call, '', undefined) });
    await send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    await send('ping', {});
    for await (const { event } of turn.events(-1, out.gone)) {
      const line = steps.add(event);
      const text = event.type === 'text' ? event.text : withSteps ? line : undefined;
      if (text) {
        sent += text;
        await send('content_block_delta', { index: 0, delta: { type: 'text_delta', text } });
      }
      if (event.type === 'result') {
        result = event;
        await send('content_block_stop', { index: 0 });
        await send('message_delta', {
          delta: { stop_reason: anthropicStop(event), stop_sequence: null },
          usage: anthropicUsage(event),
          x_claude_code: extension(conv, event, steps.steps),
        });
        await send('message_stop', {});
      }
      if (event.type === 'error')
        await send('error', { error: wireError('anthropic', event.problem, request.id).error as object });
    }
  } finally {
    out.end();
    if (out.gone.aborted && !turn.finished && ctx.config.engine.chatDisconnect === 'interrupt')
      turn.interrupt('client');
    await conv.chat.recorded;
    await (result ? conv.answered(sent) : conv.failed());
  }
  return reply;
}

export default async function anthropicRoutes(app: FastifyInstance, ctx: CompatContext): Promise<void> {
  app.post(
    '/messages',
    {
      config: { audit: 'compat.messages' },
      schema: {
        tags: ['Compatible APIs'],
        summary: 'Anthropic Messages',
        description:
          'The Anthropic Messages API on a live session (docs/compat.md): `X-Session-Name` names the session; without it a re-sent history continues the session that answered it. Errors are Anthropic error objects.',
        body: { type: 'object', additionalProperties: true },
      },
    },
    async (request, reply) => {
      const call = anthropicCall(request.body);
      return call.stream ? stream(ctx, request, reply, call) : create(ctx, request, reply, call);
    },
  );

  app.post(
    '/messages/count_tokens',
    {
      config: { audit: false },
      schema: {
        tags: ['Compatible APIs'],
        summary: 'Anthropic count_tokens',
        description:
          "Counts a Messages request's input tokens: exact through the Messages API with Claude Code's own credentials, else an estimate (docs/compat.md).",
        body: { type: 'object', additionalProperties: true },
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
