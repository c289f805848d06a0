// Approval routes: pending approvals and questions (per session and all of the caller's), answering them, and the permission rules of keys and sessions.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { AnswerInput } from '../../approvals/answers.js';
import type { ApprovalService } from '../../approvals/service.js';
import type { ApprovalRow } from '../../store/schema.js';
import type { AppDeps } from '../deps.js';
import { ok } from '../envelope.js';
import { callerOf, ownerFilter } from '../plugins/auth.js';
import { serviceUnavailable } from '../http-problem.js';
import {
  ApprovalAnswerBody,
  ApprovalParams,
  ApprovalSchema,
  QuestionAnswerBody,
  RulesView,
} from '../schemas/approvals.js';
import { Envelope, problemResponses } from '../schemas/common.js';
import { PermissionRulesSchema } from '../schemas/permission-rules.js';
import { SessionNameParams } from '../schemas/sessions.js';
import { Type } from 'typebox';
import { routePlugin } from '../route-plugin.js';

export function approvalView(row: ApprovalRow) {
  return {
    id: row.id,
    kind: row.kind,
    session: row.session_name,
    owner: row.tenant,
    turn_id: row.turn_id,
    job_id: row.job_id,
    tool: row.tool,
    tool_use_id: row.tool_use_id,
    input: row.input,
    rule: row.rule,
    status: row.status,
    reason: row.reason,
    response: row.response,
    decided_by: row.decided_by,
    deadline: row.deadline,
    created_at: row.created_at,
    decided_at: row.decided_at,
  };
}

const PendingList = Type.Array(ApprovalSchema);
const ANSWER_ERRORS = [400, 401, 404, 409, 413, 415, 422, 429] as const;

/** What the approvals routes use. */
export type ApprovalRoutesDeps = Pick<AppDeps, 'sessions' | 'approvals'>;

async function approvalRoutes(fastify: FastifyInstance, deps: ApprovalRoutesDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { sessions } = deps;
  const approvals = (): ApprovalService =>
    deps.approvals ??
    (() => {
      throw serviceUnavailable('Approvals are not available on this server.');
    })();

  app.get(
    '/approvals',
    {
      schema: {
        tags: ['Approvals'],
        operationId: 'listPendingApprovals',
        summary: "List the caller's pending approvals and questions",
        description:
          "Every approval and question waiting for a person in the caller's sessions, oldest first (an admin without X-Tenant sees every tenant's).",
        response: { 200: Envelope(PendingList), ...problemResponses(401, 429) },
      },
    },
    async (request) => ok(request, (await approvals().pending(ownerFilter(request))).map(approvalView)),
  );

  app.get(
    '/sessions/:name/approvals',
    {
      schema: {
        tags: ['Approvals'],
        operationId: 'listSessionApprovals',
        summary: "List a session's pending approvals and questions",
        params: SessionNameParams,
        response: { 200: Envelope(PendingList), ...problemResponses(401, 404, 422, 429) },
      },
    },
    async (request) => {
      const row = await sessions.get(request.tenant, request.params.name);
      return ok(request, (await approvals().pending(row.owner, row.id)).map(approvalView));
    },
  );

  // One answer route per kind: approvals take a decision, questions take answers.
  const answerRoutes = [
    {
      kind: 'approval' as const,
      path: '/sessions/:name/approvals/:id',
      operationId: 'answerApproval',
      summary: 'Answer an approval',
      description:
        'Allows or denies a paused tool call and resumes its turn. `message` (deny) is what the model is told; `updated_input` (allow) replaces the tool input; `remember` stores the answer as a rule for the session or the key. 404 for an id not pending in this session (another tenant included), 409 once it was answered or expired.',
      body: ApprovalAnswerBody,
    },
    {
      kind: 'question' as const,
      path: '/sessions/:name/questions/:id',
      operationId: 'answerQuestion',
      summary: 'Answer a question',
      description:
        "Answers Claude Code's AskUserQuestion and resumes the turn: `answers` maps each question to the chosen label (a list for multi-select) or free text. `decision: deny` declines. 404 / 409 as for approvals.",
      body: QuestionAnswerBody,
    },
  ];
  for (const r of answerRoutes) {
    app.post(
      r.path,
      {
        config: { audit: `${r.kind}.answer` },
        schema: {
          tags: ['Approvals'],
          operationId: r.operationId,
          summary: r.summary,
          description: r.description,
          params: ApprovalParams,
          body: r.body,
          response: { 200: Envelope(ApprovalSchema), ...problemResponses(...ANSWER_ERRORS) },
        },
      },
      async (request) => {
        const row = await sessions.get(request.tenant, request.params.name);
        const actor = callerOf(request).actor!;
        const body = request.body as AnswerInput;
        return ok(request, approvalView(await approvals().answer(row, r.kind, request.params.id, body, actor)));
      },
    );
  }

  app.get(
    '/sessions/:name/permission-rules',
    {
      schema: {
        tags: ['Approvals'],
        operationId: 'getSessionPermissionRules',
        summary: "A session's permission rules",
        params: SessionNameParams,
        response: { 200: Envelope(RulesView), ...problemResponses(401, 404, 422, 429) },
      },
    },
    async (request) => {
      const row = await sessions.get(request.tenant, request.params.name);
      return ok(request, await approvals().storedRules(row.owner, row.id));
    },
  );

  app.put(
    '/sessions/:name/permission-rules',
    {
      schema: {
        tags: ['Approvals'],
        operationId: 'replaceSessionPermissionRules',
        summary: "Replace a session's permission rules",
        description:
          'Replaces the rules set for the session (remembered answers stay). They add to the operator, template and key rules; they take effect at the next tool call.',
        params: SessionNameParams,
        body: PermissionRulesSchema,
        response: { 200: Envelope(RulesView), ...problemResponses(400, 401, 404, 413, 415, 422, 429) },
      },
    },
    async (request) => {
      const row = await sessions.get(request.tenant, request.params.name);
      const by = request.apiKey?.id ?? null;
      await approvals().replaceRules(row.owner, row.id, request.body, by, '');
      return ok(request, await approvals().storedRules(row.owner, row.id));
    },
  );

  app.get(
    '/permission-rules',
    {
      schema: {
        tags: ['Approvals'],
        operationId: 'getKeyPermissionRules',
        summary: "The caller's key-level permission rules",
        description:
          "Rules of the caller's key (an admin: of the tenant named by X-Tenant), and its remembered answers.",
        response: { 200: Envelope(RulesView), ...problemResponses(401, 429) },
      },
    },
    async (request) => ok(request, await approvals().storedRules(request.tenant, null)),
  );

  app.put(
    '/permission-rules',
    {
      config: { admin: true },
      schema: {
        tags: ['Approvals'],
        operationId: 'replaceKeyPermissionRules',
        summary: "Replace a key's permission rules (admin)",
        description:
          "Admin only: replaces the key-level rules of the tenant named by X-Tenant (the admin's own without it). They apply to every session of that key.",
        body: PermissionRulesSchema,
        response: { 200: Envelope(RulesView), ...problemResponses(400, 401, 403, 413, 415, 422, 429) },
      },
    },
    async (request) => {
      await approvals().replaceRules(request.tenant, null, request.body, request.apiKey?.id ?? null, '');
      return ok(request, await approvals().storedRules(request.tenant, null));
    },
  );
}

export default routePlugin('approval-routes', approvalRoutes);
