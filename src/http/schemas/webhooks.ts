// The OpenAPI `webhooks` of jobs: one entry per event, its body built from the job schema and the engine's event schemas.
import { Type, type TSchema } from 'typebox';
import { ApprovalEventSchema, QuestionEventSchema } from '../../engine/events.js';
import { JOB_STATE_EVENTS } from '../../jobs/view.js';
import { JobSchema } from './jobs.js';

/** The job as a webhook carries it: without its delivery log. */
const { webhooks: _log, ...jobFields } = JobSchema.properties;

const WHEN: Record<string, string> = {
  'job.started': 'Its turn started (again after a re-queue).',
  'job.succeeded': 'It ended with a result.',
  'job.failed': 'It ended with an error (including `job-interrupted` after a restart).',
  'job.cancelled': 'It was cancelled (queued or running).',
  'approval.requested': 'Its turn paused a tool call for a person; `data.approval` is the `approval` event.',
  'question.requested': 'Its turn asks the person a question; `data.question` is the `question` event.',
};

/** The Standard Webhooks body `{ type, timestamp, data }` of one event. */
function payload(type: string, extra: Record<string, TSchema> = {}) {
  return Type.Object(
    {
      type: Type.Literal(type),
      timestamp: Type.String({ format: 'date-time' }),
      data: Type.Object({ ...jobFields, ...extra }),
    },
    { title: `${type} webhook` },
  );
}

const PAYLOADS: Record<string, TSchema> = {
  ...Object.fromEntries(JOB_STATE_EVENTS.map((type) => [type, payload(type)])),
  'approval.requested': payload('approval.requested', { approval: ApprovalEventSchema }),
  'question.requested': payload('question.requested', { question: QuestionEventSchema }),
};

/** The `webhooks` member of the OpenAPI document: the POST each job event sends, signed per Standard Webhooks. */
export function jobWebhooks() {
  return Object.fromEntries(
    Object.entries(PAYLOADS).map(([type, schema]) => [
      type,
      {
        post: {
          operationId: `${type.replace(/\.(\w)/, (_m, c: string) => c.toUpperCase())}Webhook`,
          summary: `${type} (webhook)`,
          description: `${WHEN[type]} Sent to the job's \`webhook_url\` and to WEBHOOK_URL, signed per Standard Webhooks (\`webhook-id\`, \`webhook-timestamp\`, \`webhook-signature\` headers).`,
          tags: ['Jobs'],
          requestBody: { required: true, content: { 'application/json': { schema } } },
          responses: { '200': { description: 'Any 2xx: delivered. Anything else is retried with back-off.' } },
        },
      },
    ]),
  );
}
