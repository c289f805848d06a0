// GET /v1/models and /v1/models/{id}: Claude models and aliases, and `template:<name>` per agent template, in OpenAI's or Anthropic's form.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CompatContext } from './context.js';
import { chooseModel, listModels, modelView, type ModelEntry } from './models.js';
import { formatOf } from './wire-errors.js';

export default async function modelRoutes(app: FastifyInstance, ctx: CompatContext): Promise<void> {
  const started = new Date();
  const views = (request: FastifyRequest, entries: ModelEntry[]) =>
    entries.map((e) => modelView(e, formatOf(request) === 'anthropic', started));

  app.get(
    '/models',
    {
      schema: {
        tags: ['Compatible APIs'],
        summary: 'List models (OpenAI / Anthropic form)',
        description:
          "The models a compatible request may name: Claude model ids or aliases, then `template:<name>` for each agent template. Anthropic's list form when the request sends `anthropic-version`.",
      },
    },
    async (request) => {
      const data = views(request, listModels(ctx.config.claude, ctx.templates));
      if (formatOf(request) === 'openai') return { object: 'list', data };
      const ids = data.map((m) => m.id as string);
      return { data, has_more: false, first_id: ids[0] ?? null, last_id: ids.at(-1) ?? null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/models/:id',
    {
      schema: {
        tags: ['Compatible APIs'],
        summary: 'Get a model (OpenAI / Anthropic form)',
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      },
    },
    async (request) => {
      const { id } = request.params;
      const choice = chooseModel(id, ctx.config.claude, ctx.templates);
      const entry: ModelEntry = { id, kind: 'template' in choice ? 'template' : 'claude' };
      return views(request, [entry])[0];
    },
  );
}
