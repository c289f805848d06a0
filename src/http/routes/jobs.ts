// Job routes: create (202 + Location), list, get, cancel, and the job's event stream (SSE, replay then live).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { callerOf } from '../plugins/auth.js';
import type { JobService } from '../../jobs/service.js';
import type { AppDeps } from '../deps.js';
import { ok, pageOf, paginationOf } from '../envelope.js';
import { serviceUnavailable } from '../http-problem.js';
import { Envelope, ListEnvelope, problemResponses } from '../schemas/common.js';
import { turnEventStream } from '../schemas/events.js';
import { JobEventsQuery, JobListQuery, JobParams, JobSchema, jobBody, type JobBody } from '../schemas/jobs.js';
import { SessionNameParams } from '../schemas/sessions.js';
import { lastEventIdOf, streamTurn } from '../sse.js';
import { routePlugin } from '../route-plugin.js';

const SSE_RESPONSE = turnEventStream("The job's turn events");

function jobInput(body: JobBody) {
  const { system, system_prompt, ...rest } = body;
  const prompt = system ?? system_prompt;
  return prompt === undefined ? rest : { ...rest, system_prompt: prompt };
}

/** What the jobs routes use. */
export type JobRoutesDeps = Pick<AppDeps, 'config' | 'jobs'>;

async function jobRoutes(fastify: FastifyInstance, deps: JobRoutesDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const jobs = (): JobService =>
    deps.jobs ??
    (() => {
      throw serviceUnavailable('Jobs are not available on this server.');
    })();

  app.post(
    '/sessions/:name/jobs',
    {
      schema: {
        tags: ['Jobs'],
        operationId: 'createJob',
        summary: 'Create a job',
        description:
          'Queues one chat turn to run in the background and answers 202 at once, with the job and its `Location`. ' +
          "The job shares its session's turn queue with chat (one turn at a time per session, in order) and the global turn cap. " +
          'Its events (`job.started`, `job.succeeded`, `job.failed`, `job.cancelled`) are signed per Standard Webhooks and sent to `webhook_url` and WEBHOOK_URL. ' +
          'Send an `Idempotency-Key` to make retries safe. ' +
          "The job runs as the key that created it: that key's budget is checked here (429 `key-budget-exceeded`) and again when the job starts, and its turns count against that key's fair share.",
        params: SessionNameParams,
        body: jobBody(deps.config.maxMessageChars),
        response: { 202: Envelope(JobSchema), ...problemResponses(400, 401, 404, 409, 413, 415, 422, 429) },
      },
    },
    async (request, reply) => {
      const job = await jobs().create(request.tenant, request.params.name, jobInput(request.body), callerOf(request));
      reply.code(202).header('location', `/api/v1/sessions/${encodeURIComponent(request.params.name)}/jobs/${job.id}`);
      return ok(request, job);
    },
  );

  app.get(
    '/sessions/:name/jobs',
    {
      schema: {
        tags: ['Jobs'],
        operationId: 'listJobs',
        summary: 'List jobs',
        description:
          "The session's jobs, newest first; `status` filters by state (`done` is accepted for `succeeded`).",
        params: SessionNameParams,
        querystring: JobListQuery,
        response: { 200: ListEnvelope(JobSchema), ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => {
      const p = pageOf(request.query);
      const result = await jobs().list(request.tenant, request.params.name, request.query.status, p.offset, p.limit);
      return ok(request, result.items, paginationOf(p, result.total));
    },
  );

  app.get(
    '/sessions/:name/jobs/:id',
    {
      schema: {
        tags: ['Jobs'],
        operationId: 'getJob',
        summary: 'Get a job',
        description:
          "The job's state, its result (the same shape as a sync chat) or problem document, and the log of its webhook deliveries.",
        params: JobParams,
        response: { 200: Envelope(JobSchema), ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => ok(request, await jobs().get(request.tenant, request.params.name, request.params.id)),
  );

  app.post(
    '/sessions/:name/jobs/:id/cancel',
    {
      schema: {
        tags: ['Jobs'],
        operationId: 'cancelJob',
        summary: 'Cancel a job',
        description:
          'A queued job is taken off the queue and ends `cancelled` without running. A running job has its turn interrupted and ends `cancelled`; ' +
          'the answer comes once it has (normally well under a second). A job that has already ended answers 409.',
        params: JobParams,
        response: { 200: Envelope(JobSchema), ...problemResponses(401, 404, 409, 422) },
      },
    },
    async (request) => ok(request, await jobs().cancel(request.tenant, request.params.name, request.params.id)),
  );

  app.get(
    '/sessions/:name/jobs/:id/events',
    {
      schema: {
        tags: ['Jobs'],
        operationId: 'streamJobEvents',
        summary: "Stream a job's events (SSE)",
        description:
          "The job's turn events (`session`, `text`, `tool_use`, `tool_result`, then `result` or `error`), replaying what already happened first, so a client can attach at any time; " +
          'the stream waits while the job is queued and ends after the final event. With `Last-Event-ID` (header or `last_event_id` query) only the events after that id. ' +
          'A job that ended without running (cancelled while queued, or failed before its turn started) shows one `error` event with id 0.',
        params: JobParams,
        querystring: JobEventsQuery,
        response: { 200: SSE_RESPONSE, ...problemResponses(401, 404, 422) },
      },
    },
    async (request, reply) => {
      const stream = await jobs().events(request.tenant, request.params.name, request.params.id);
      await streamTurn(reply, stream, {
        afterId: lastEventIdOf(request) ?? -1,
        heartbeatMs: deps.config.engine.heartbeatMs,
        headers: { 'x-job-id': request.params.id },
      });
      return reply;
    },
  );
}

export default routePlugin('job-routes', jobRoutes, ['idempotency', 'revoked-streams']);
