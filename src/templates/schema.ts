// The shape of a templates YAML file (TypeBox): `templates:` mapping names to agent profiles (the Python seed's top-level map is read into it); unknown keys are refused.
import { Type, type Static } from 'typebox';
import { EFFORT_LEVELS, PERMISSION_MODES } from '../config/settings.js';

export const TEMPLATE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

const ToolList = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_:*()./ -]+$' }), {
    maxItems: 100,
    description,
  });

/** One agent profile: every field optional; what it sets sits between the environment and the session's own options. */
export const TemplateProfile = Type.Object(
  {
    description: Type.Optional(Type.String({ maxLength: 500, description: 'What the profile is for, in a sentence.' })),
    system_prompt: Type.Optional(
      Type.String({ maxLength: 100_000, description: "Text appended to Claude Code's own system prompt." }),
    ),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Model name or alias.' })),
    effort: Type.Optional(
      Type.Union(
        EFFORT_LEVELS.map((e) => Type.Literal(e)),
        { description: 'Effort level.' },
      ),
    ),
    max_turns: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'Most agentic turns per chat request.' }),
    ),
    allowed_tools: Type.Optional(ToolList("Tools Claude may use (narrowed to the operator's CLAUDE_ALLOWED_TOOLS).")),
    disallowed_tools: Type.Optional(ToolList('Tools removed.')),
    permission_rules: Type.Optional(
      Type.Object(
        {
          allow: Type.Optional(ToolList('Rules whose calls run without asking.')),
          ask: Type.Optional(ToolList("Rules whose calls wait for a person's approval.")),
          deny: Type.Optional(ToolList('Rules whose calls are refused.')),
        },
        {
          additionalProperties: false,
          description: "Permission rules in Claude Code's syntax; they add to the operator's (docs/approvals.md).",
        },
      ),
    ),
    permission_mode: Type.Optional(
      Type.Union(
        PERMISSION_MODES.map((m) => Type.Literal(m)),
        { description: 'Permission mode (must be in CLAUDE_ALLOWED_PERMISSION_MODES to be used).' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type TemplateProfile = Static<typeof TemplateProfile>;

/** A whole file. Names are checked separately (against TEMPLATE_NAME_PATTERN) so the message can name the key. */
export const TemplateFile = Type.Object(
  { templates: Type.Record(Type.String(), TemplateProfile, { description: 'Profiles by name.' }) },
  { additionalProperties: false },
);
export type TemplateFile = Static<typeof TemplateFile>;
