// Runs a compatible request's turn and hands its outcome to a wire format: whole (after the turn) or streamed (as it happens).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { TurnResult } from '../../engine/events.js';
import type { ProblemDoc } from '../../problems.js';
import type { ConversationTurn } from '../../sessions/conversations.js';
import { watchClient } from '../routes/chat.js';
import { openFrameStream, type FrameStream } from '../sse.js';
import { answerHeaders, startTurn, wantsSteps, type CompatContext } from './context.js';
import type { CompatCall } from './params.js';
import { cutAtStop, StopScanner } from './stop.js';
import { StepLog, type Step } from './turn-output.js';

export interface Answer {
  conv: ConversationTurn;
  result: TurnResult;
  /** The content sent: the final text, after the steps as text with X-Include-Steps, cut at a stop sequence. */
  content: string;
  /** The stop sequence that cut the content, if one did. */
  stopSequence: string | undefined;
  steps: Step[];
}

/** What a wire format writes while a turn streams. */
export interface StreamFrames {
  start(): Promise<void>;
  text(text: string): Promise<void>;
  result(result: TurnResult, steps: Step[], stopSequence: string | undefined): Promise<void>;
  error(problem: ProblemDoc): Promise<void>;
  /** After the last event (OpenAI's `data: [DONE]`). */
  end(): Promise<void>;
}

/** Waits for the turn's result; a failed turn releases the conversation so a retry may continue the same session. */
async function resultOf(conv: ConversationTurn): Promise<TurnResult> {
  try {
    return await conv.chat.turn.done;
  } catch (err) {
    await conv.chat.recorded;
    await conv.failed();
    throw err;
  }
}

const interruptsOnDisconnect = (ctx: CompatContext) => ctx.config.engine.chatDisconnect === 'interrupt';

/** Runs the turn to its end and records the answer as the conversation's new head. */
export async function wholeAnswer(
  ctx: CompatContext,
  request: FastifyRequest,
  reply: FastifyReply,
  call: CompatCall,
): Promise<Answer> {
  const conv = await startTurn(ctx, request, call);
  const unwatch = watchClient(reply, conv.chat.turn, interruptsOnDisconnect(ctx));
  try {
    const result = await resultOf(conv);
    await conv.chat.recorded;
    const log = new StepLog();
    let stepsText = '';
    for await (const { event } of conv.chat.turn.events(-1)) stepsText += log.add(event) ?? '';
    const cut = cutAtStop(wantsSteps(request) ? stepsText + result.content : result.content, call.stop);
    await conv.answered(cut.text);
    reply.headers(answerHeaders(conv));
    return { conv, result, content: cut.text, stopSequence: cut.matched, steps: log.steps };
  } finally {
    unwatch();
  }
}

/** Streams the turn through `frames`; the text the client received becomes the conversation's new head. */
export async function streamAnswer(
  ctx: CompatContext,
  request: FastifyRequest,
  reply: FastifyReply,
  call: CompatCall,
  framesFor: (conv: ConversationTurn, out: FrameStream) => StreamFrames,
): Promise<FastifyReply> {
  const conv = await startTurn(ctx, request, call);
  const turn = conv.chat.turn;
  await turn.whenStarted();
  if (turn.finished && turn.lastEventId < 0 && turn.error) {
    // It never ran (cancelled, overloaded …): a plain error response.
    await conv.failed();
    throw turn.error;
  }
  const out = openFrameStream(reply, answerHeaders(conv), ctx.config.engine.heartbeatMs);
  const frames = framesFor(conv, out);
  const steps = new StepLog();
  const withSteps = wantsSteps(request);
  const stops = new StopScanner(call.stop);
  let sent = '';
  let result: TurnResult | undefined;
  const send = async (text: string) => {
    if (!text) return;
    sent += text;
    await frames.text(text);
  };
  try {
    await frames.start();
    for await (const { event } of turn.events(-1, out.gone)) {
      const line = steps.add(event);
      const text = event.type === 'text' ? event.text : withSteps ? line : undefined;
      if (text) await send(stops.push(text));
      if (event.type === 'result') {
        await send(stops.flush());
        await frames.result((result = event), steps.steps, stops.matched);
      }
      if (event.type === 'error') await frames.error(event.problem);
    }
    await frames.end();
  } finally {
    out.end();
    if (out.gone.aborted && !turn.finished && interruptsOnDisconnect(ctx)) turn.interrupt('client');
    await conv.chat.recorded;
    await (result ? conv.answered(sent) : conv.failed());
  }
  return reply;
}
