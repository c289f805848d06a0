// Chat routes: a sync turn, a streamed turn (SSE, with Last-Event-ID replay), re-attaching to a turn, and interrupting it.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { isPersonEvent, type EventStream, type PersonEvent, type TurnResult } from '../../engine/events.js';
import type { Turn } from '../../engine/turn.js';
import { ProblemError } from '../../problems.js';
import type { ChatInput } from '../../sessions/service.js';
import type { AppDeps } from '../deps.js';
import { callerOf } from '../plugins/auth.js';
import { ok } from '../envelope.js';
import { ChatWaiting } from '../schemas/approvals.js';
import { Envelope, problemResponses } from '../schemas/common.js';
import { chatEventStream } from '../schemas/events.js';
import { chatFramer, ChatEventsQuery } from '../seed-sse.js';
import { approvalView } from './approvals.js';
import { chatBody, ChatResult, InterruptResult, SessionNameParams, type ChatBody } from '../schemas/sessions.js';
import { lastEventIdOf, streamTurn } from '../sse.js';
import { routePlugin } from '../route-plugin.js';

const TURN_ERRORS = [400, 401, 404, 409, 413, 415, 422, 429, 502, 503, 504] as const;
const SSE_RESPONSE = chatEventStream("The turn's events");

function chatInput(body: ChatBody): ChatInput {
  const { system, system_prompt, wait: _wait, ...rest } = body;
  const prompt = system ?? system_prompt;
  return prompt === undefined ? rest : { ...rest, system_prompt: prompt };
}

/** The sync answer: the turn's result (its fields as ChatResult lists them), a failed status never reaching here. */
function resultView(r: TurnResult) {
  return {
    ...r,
    status: r.status === 'interrupted' ? ('interrupted' as const) : ('ok' as const),
    cost: r.cost_usd,
    denials: r.denials ?? [],
  };
}

/** Resolves with the turn's first pause for a person (approval or question), or undefined once it ends without one. */
async function firstPause(turn: Turn): Promise<PersonEvent | undefined> {
  for await (const { event } of turn.events(-1)) {
    if (isPersonEvent(event)) return event;
  }
  return undefined;
}

/** Interrupts the turn if its client goes away before the reply is sent (CHAT_DISCONNECT=interrupt). */
export function watchClient(reply: FastifyReply, turn: Turn, interrupt: boolean): () => void {
  const onClose = () => {
    if (interrupt && !reply.raw.writableFinished && !turn.finished) turn.interrupt('client');
  };
  reply.raw.on('close', onClose);
  return () => reply.raw.off('close', onClose);
}

function replayGone(last: number): ProblemError {
  return new ProblemError(
    410,
    'replay-unavailable',
    'Events no longer available',
    `No turn holding events after ${last} is kept for this session (finished turns are kept TURN_REPLAY_SECONDS); read the history instead.`,
  );
}

/** What the chat routes use. */
export type ChatRoutesDeps = Pick<AppDeps, 'config' | 'sessions' | 'approvals' | 'cluster'>;

async function chatRoutes(fastify: FastifyInstance, deps: ChatRoutesDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { sessions, config, cluster } = deps;
  /** The turn to re-attach to: kept here, else (several nodes, its node gone) read back from the cluster's events. */
  const keptTurn = async (tenant: string, name: string, last: number | undefined): Promise<EventStream | undefined> => {
    const here = await sessions.turnFor(tenant, name, last);
    if (here) return cluster ? cluster.events.durable(here) : here;
    if (!cluster) return undefined;
    const row = await sessions.get(tenant, name);
    return cluster.events.turnAfter(row.id, last);
  };
  const interruptOnDisconnect = config.engine.chatDisconnect === 'interrupt';
  const body = chatBody(config.maxMessageChars);

  app.post(
    '/sessions/:name/chat',
    {
      schema: {
        tags: ['Chat'],
        operationId: 'chat',
        summary: 'Chat (sync)',
        description:
          'Runs one turn and answers with its result. Turns of one session run one at a time; a request waits behind the running one (409 when SESSION_QUEUE_LIMIT requests already wait).',
        params: SessionNameParams,
        body,
        response: {
          200: Envelope(ChatResult),
          202: { description: 'The turn waits for a person', ...Envelope(ChatWaiting) },
          ...problemResponses(...TURN_ERRORS),
        },
      },
    },
    async (request, reply) => {
      const { turn, recorded } = await sessions.chat(
        request.tenant,
        request.params.name,
        chatInput(request.body),
        callerOf(request),
      );
      const unwatch = watchClient(reply, turn, interruptOnDisconnect);
      try {
        const paused = request.body.wait === true ? undefined : await firstPause(turn);
        if (paused && !turn.finished) {
          // The turn goes on without this request: it answers with what the turn waits for and where to follow it.
          unwatch();
          const base = `/api/v1/sessions/${encodeURIComponent(request.params.name)}`;
          const pending = deps.approvals ? await deps.approvals.pending(request.tenant) : [];
          reply.code(202).header('location', `${base}/chat/stream`);
          return ok(request, {
            status: 'waiting' as const,
            turn_id: turn.id,
            pending: pending.filter((a) => a.turn_id === turn.id).map(approvalView),
            stream_url: `${base}/chat/stream`,
            approvals_url: `${base}/approvals`,
          });
        }
        const result = await turn.done;
        await recorded;
        return ok(request, resultView(result));
      } catch (err) {
        await recorded;
        throw err;
      } finally {
        unwatch();
      }
    },
  );

  app.post(
    '/sessions/:name/chat/stream',
    {
      schema: {
        tags: ['Chat'],
        operationId: 'chatStream',
        summary: 'Chat (SSE stream)',
        description:
          'Runs one turn and streams its events as Server-Sent Events: `session`, `text` (deltas), `tool_use`, `tool_result`, then `result` or `error`. ' +
          'Event ids are sequential per session. A client that lost the stream re-sends the request with `Last-Event-ID`: it gets the events after that id of the turn still running or just finished, and no new turn starts. ' +
          "Beside these, the Python seed's `assistant`, `tool` and `done` frames (and its `error` member), unless `events=native`; `events=seed` sends the seed's frames only.",
        params: SessionNameParams,
        querystring: ChatEventsQuery,
        body,
        response: { 200: SSE_RESPONSE, ...problemResponses(...TURN_ERRORS, 410) },
      },
    },
    async (request, reply) => {
      const last = lastEventIdOf(request);
      const frames = chatFramer(request.query.events ?? 'all');
      if (last !== undefined) {
        const kept = await keptTurn(request.tenant, request.params.name, last);
        if (!kept) throw replayGone(last);
        await streamTurn(reply, kept, { afterId: last, heartbeatMs: config.engine.heartbeatMs, frames });
        return reply;
      }
      const { turn } = await sessions.chat(
        request.tenant,
        request.params.name,
        chatInput(request.body),
        callerOf(request),
      );
      await turn.whenStarted();
      if (turn.finished && turn.lastEventId < 0 && turn.error) throw turn.error; // never started: a plain problem response
      await streamTurn(reply, cluster ? cluster.events.durable(turn) : turn, {
        afterId: 0,
        heartbeatMs: config.engine.heartbeatMs,
        frames,
        onClientGone: () => {
          if (interruptOnDisconnect) turn.interrupt('client');
        },
      });
      return reply;
    },
  );

  app.get(
    '/sessions/:name/chat/stream',
    {
      schema: {
        tags: ['Chat'],
        operationId: 'attachToTurn',
        summary: 'Attach to the latest turn (SSE)',
        description:
          "Streams the session's running or most recent turn (EventSource-friendly). With `Last-Event-ID` (header or `last_event_id` query), only the events after that id. The `events` query picks the vocabulary as on POST.",
        params: SessionNameParams,
        querystring: ChatEventsQuery,
        response: { 200: SSE_RESPONSE, ...problemResponses(401, 404, 410, 422) },
      },
    },
    async (request, reply) => {
      const last = lastEventIdOf(request);
      const turn = await keptTurn(request.tenant, request.params.name, last);
      if (!turn) {
        if (last !== undefined) throw replayGone(last);
        throw new ProblemError(404, 'not-found', 'Not found', 'This session has no running or recent turn.');
      }
      await streamTurn(reply, turn, {
        afterId: last ?? 0,
        heartbeatMs: config.engine.heartbeatMs,
        frames: chatFramer(request.query.events ?? 'all'),
      });
      return reply;
    },
  );

  app.post(
    '/sessions/:name/interrupt',
    {
      schema: {
        tags: ['Chat'],
        operationId: 'interruptTurn',
        summary: 'Interrupt the running turn',
        description:
          'Stops the running turn (it ends with status `interrupted`) and cancels waiting ones. The session stays usable.',
        params: SessionNameParams,
        response: { 200: Envelope(InterruptResult), ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => ok(request, { interrupted: await sessions.interrupt(request.tenant, request.params.name) }),
  );
}

export default routePlugin('chat-routes', chatRoutes, ['idempotency', 'revoked-streams']);
