// TypeBox schema of `permission_rules` (allow / ask / deny lists of rules in Claude Code's syntax), shared by sessions, chat, jobs and keys.
import { Type } from 'typebox';
import { MAX_RULES_PER_OUTCOME } from '../../approvals/rules.js';

const RuleList = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { maxItems: MAX_RULES_PER_OUTCOME, description });

export const PermissionRulesSchema = Type.Object(
  {
    allow: Type.Optional(RuleList('Calls that run without asking (unless a rule of any level says ask or deny).')),
    ask: Type.Optional(RuleList("Calls that wait for a person's approval (unless a rule of any level says deny).")),
    deny: Type.Optional(RuleList('Calls that are refused; deny beats ask beats allow, across every level.')),
  },
  {
    additionalProperties: false,
    description:
      "Permission rules in Claude Code's syntax (`Bash(npm test:*)`, `Write(src/**)`, `Read`, `WebFetch(domain:example.com)`); they add to the operator's, template's and key's rules and can only narrow them (docs/approvals.md). An unknown or malformed rule is a 422 naming it.",
  },
);
