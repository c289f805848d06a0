// Template routes: list and show the loaded agent templates, and reload them from their files (admin).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ProblemError } from '../../problems.js';
import { TemplateFileError } from '../../templates/parse.js';
import type { AppDeps } from '../deps.js';
import { ok, pageOf, paginationOf } from '../envelope.js';
import { notFound } from '../http-problem.js';
import { Envelope, MapEnvelope, problemResponses } from '../schemas/common.js';
import { ReloadResult, TemplateListQuery, TemplateNameParams, TemplateSchema } from '../schemas/templates.js';
import { templateView } from '../views.js';
import { routePlugin } from '../route-plugin.js';

/** A refused templates file as a 422 problem naming the file and line of each problem. */
export function invalidTemplates(err: TemplateFileError): ProblemError {
  return new ProblemError(
    422,
    'invalid-templates',
    'Invalid templates file',
    `${err.message}. The previous templates stay in use.`,
    { template_errors: err.issues },
  );
}

/** What the templates routes use. */
export type TemplateRoutesDeps = Pick<AppDeps, 'templates'>;

async function templateRoutes(fastify: FastifyInstance, deps: TemplateRoutesDeps): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { templates } = deps;

  app.get(
    '/templates',
    {
      schema: {
        tags: ['Templates'],
        operationId: 'listTemplates',
        summary: 'List templates',
        description:
          'The agent templates a session can be created from (`POST /sessions` with `template`): an object keyed by name (as the Python seed lists them), the shipped ones and those of TEMPLATES_PATH, in name order.',
        querystring: TemplateListQuery,
        response: { 200: MapEnvelope(TemplateSchema), ...problemResponses(401, 422) },
      },
    },
    async (request) => {
      const p = pageOf(request.query);
      const all = templates.list();
      const page = all.slice(p.offset, p.offset + p.limit);
      return ok(request, Object.fromEntries(page.map((t) => [t.name, templateView(t)])), paginationOf(p, all.length));
    },
  );

  app.get(
    '/templates/:name',
    {
      schema: {
        tags: ['Templates'],
        operationId: 'getTemplate',
        summary: 'Get a template',
        params: TemplateNameParams,
        response: { 200: Envelope(TemplateSchema), ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => {
      const t = templates.get(request.params.name);
      if (!t) throw notFound(`Template ${JSON.stringify(request.params.name)}`);
      return ok(request, templateView(t));
    },
  );

  app.post(
    '/templates/reload',
    {
      config: { admin: true },
      schema: {
        tags: ['Templates'],
        operationId: 'reloadTemplates',
        summary: 'Reload templates (admin)',
        description:
          'Reads the shipped file and TEMPLATES_PATH again. If any file is invalid, nothing changes and the answer is a 422 problem whose `template_errors` name the file, line and column of each problem. Needs an admin key.',
        response: { 200: Envelope(ReloadResult), ...problemResponses(401, 403, 422) },
      },
    },
    async (request) => {
      try {
        const list = await templates.reload();
        return ok(request, { count: list.length, names: list.map((t) => t.name) });
      } catch (err) {
        if (err instanceof TemplateFileError) throw invalidTemplates(err);
        throw err;
      }
    },
  );
}

export default routePlugin('template-routes', templateRoutes);
