// What the compatible routes share: settings, the conversation service, templates, and starting a turn for a request.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config/index.js';
import type { ConversationService, ConversationTurn } from '../../sessions/conversations.js';
import type { TemplateRegistry } from '../../templates/registry.js';
import type { TokenCounter } from '../../usage/token-count.js';
import { callerOf } from '../plugins/auth.js';
import { SessionElsewhere } from '../plugins/forward.js';
import { chooseModel } from './models.js';
import { includeStepsOf, sessionNameOf, type CompatCall } from './params.js';

export interface CompatContext {
  config: Config;
  conversations: ConversationService;
  templates: TemplateRegistry;
  tokens: TokenCounter;
  /** Several nodes: the node that runs a session when it is not this one (the cluster-forward plugin's). */
  sessionOwner?: FastifyInstance['sessionOwner'];
}

/**
 * Finds or creates the request's session and queues its turn (request > session > template > environment). Several
 * nodes: throws SessionElsewhere, before anything is sent, when another node runs the session (the request is then
 * forwarded there).
 */
export function startTurn(ctx: CompatContext, request: FastifyRequest, call: CompatCall): Promise<ConversationTurn> {
  const choice = chooseModel(call.model, ctx.config.claude, ctx.templates);
  const sessionName = sessionNameOf(request.headers);
  const { sessionOwner } = ctx;
  return ctx.conversations.start(request.tenant, callerOf(request), {
    messages: call.messages,
    options: 'model' in choice ? { ...call.options, model: choice.model } : call.options,
    ...('template' in choice && { template: choice.template }),
    ...(sessionName !== undefined && { sessionName }),
    ...(call.endUser !== undefined && { endUser: call.endUser }),
    ...(sessionOwner && {
      beforeTurn: async (session) => {
        const owner = await sessionOwner(request, session.id);
        if (owner) throw new SessionElsewhere(owner);
      },
    }),
  });
}

/** Headers of every answer: the session it ran on, so a client may name it next time. */
export function answerHeaders(conv: ConversationTurn): Record<string, string> {
  return { 'x-session-name': conv.session.name, 'x-turn-id': conv.chat.turn.id };
}

export const wantsSteps = (request: FastifyRequest) => includeStepsOf(request.headers);
