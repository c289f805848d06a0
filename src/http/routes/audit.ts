// Audit route: the trail of mutating requests and tool calls / denials, filtered and paginated, scoped to the caller's tenant.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { AuditRepo } from '../../store/audit-repo.js';
import type { AuditRow } from '../../store/schema.js';
import { ok, pageOf, paginationOf } from '../envelope.js';
import { ownerFilter } from '../plugins/auth.js';
import { AuditItem, AuditQuery } from '../schemas/audit.js';
import { ListEnvelope, problemResponses } from '../schemas/common.js';
import { routePlugin } from '../route-plugin.js';

/** What the row records as the Python seed's audit showed it: what was said, or else what was done. */
function contentOf(r: AuditRow): string {
  const d = (r.detail ?? {}) as { message?: unknown; tool?: unknown; input?: unknown; reason?: unknown };
  if (typeof d.message === 'string') return d.message;
  if (r.action === 'tool.use') return `${String(d.tool)} ${JSON.stringify(d.input ?? null)}`;
  if (r.action === 'tool.deny') return `${String(d.tool)} denied: ${String(d.reason)}`;
  return `${r.method ?? ''} ${r.route ?? r.resource ?? ''} -> ${r.status ?? ''}`.trim();
}

function auditView(r: AuditRow) {
  return {
    id: r.id,
    at: r.created_at,
    key_id: r.key_id,
    tenant: r.tenant,
    action: r.action,
    resource: r.resource,
    session: r.session,
    status: r.status,
    outcome: r.outcome,
    request_id: r.request_id,
    ip: r.ip,
    method: r.method,
    route: r.route,
    detail: r.detail,
    // The Python seed's fields: by whom (`user` = the caller's request, `assistant` = Claude's tool call), what, where.
    role: r.action.startsWith('tool.') ? ('assistant' as const) : ('user' as const),
    content: contentOf(r),
    session_name: r.session,
  };
}

/** An ISO-8601 time in the stored form (UTC, milliseconds, Z), so text comparison orders it right. */
const isoOf = (t: string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

/** What the audit routes use. */
export type AuditRoutesDeps = { audit: AuditRepo };

async function auditRoutes(fastify: FastifyInstance, deps: AuditRoutesDeps): Promise<void> {
  fastify.withTypeProvider<TypeBoxTypeProvider>().get(
    '/audit',
    {
      schema: {
        tags: ['Audit'],
        operationId: 'listAudit',
        summary: 'Audit trail',
        description:
          'Newest first. Every POST/PUT/PATCH/DELETE (who, what, outcome, request id, IP) and every tool call (`tool.use`) and denial (`tool.deny`) of a turn. ' +
          "A user key sees its own tenant's rows; an admin key sees all (or one tenant's with X-Tenant).",
        querystring: AuditQuery,
        response: { 200: ListEnvelope(AuditItem), ...problemResponses(401, 422, 429) },
      },
    },
    async (request) => {
      const q = request.query;
      const p = pageOf(q);
      const page = await deps.audit.list(
        {
          tenant: ownerFilter(request),
          action: q.action,
          session: q.session,
          keyId: q.key_id,
          from: isoOf(q.from),
          to: isoOf(q.to),
        },
        { offset: p.offset, limit: p.limit },
      );
      return ok(request, page.items.map(auditView), paginationOf(p, page.total));
    },
  );
}

export default routePlugin('audit-routes', auditRoutes);
