// TypeBox schemas of the templates routes: a template as shown, its name parameter and the result of a reload.
import { Type } from 'typebox';
import { PaginationQuery } from './common.js';
import { TEMPLATE_NAME_PATTERN, TemplateProfile } from '../../templates/schema.js';

/** The list's query: a page of up to 100 templates, 100 by default, so the seed's clients (which send none) get them all. */
export const TemplateListQuery = Type.Object({
  page: PaginationQuery.properties.page,
  limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, default: 100, description: 'Templates per page (1–100, default 100).' }),
  ),
});

export const TemplateNameParams = Type.Object({
  name: Type.String({ pattern: TEMPLATE_NAME_PATTERN, description: 'Template name.' }),
});

export const TemplateSchema = Type.Object({
  name: Type.String(),
  source: Type.Union([Type.Literal('builtin'), Type.Literal('user')], {
    description: '`builtin`: shipped with the service; `user`: from TEMPLATES_PATH.',
  }),
  ...TemplateProfile.properties,
  warnings: Type.Array(Type.String(), {
    description:
      "What the operator's limits changed (tools narrowed) or refuse (a permission mode a session must then override).",
  }),
});

export const ReloadResult = Type.Object({
  count: Type.Integer({ minimum: 0, description: 'Templates loaded.' }),
  names: Type.Array(Type.String()),
});

export const TemplateIssueSchema = Type.Object({
  file: Type.String(),
  line: Type.Integer({ minimum: 1 }),
  column: Type.Integer({ minimum: 1 }),
  path: Type.String({ description: 'Dotted path of the offending value, e.g. `templates.security.max_turns`.' }),
  message: Type.String(),
});
