// Permission rules (allow / ask / deny in Claude Code's syntax) typed one per line, as the API's permission_rules object.
export interface RuleLists {
  allow: string;
  ask: string;
  deny: string;
}

export const NO_RULES: RuleLists = { allow: '', ask: '', deny: '' };

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** The `permission_rules` body member, or undefined when no rule was typed. */
export function rulesBody(r: RuleLists): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  for (const level of ['allow', 'ask', 'deny'] as const) {
    const list = lines(r[level]);
    if (list.length) out[level] = list;
  }
  return Object.keys(out).length ? out : undefined;
}

export function RulesFields({ value, onChange }: { value: RuleLists; onChange: (v: RuleLists) => void }) {
  return (
    <fieldset class="rules">
      <legend>Permission rules (one per line)</legend>
      {(['allow', 'ask', 'deny'] as const).map((level) => (
        <label key={level}>
          {level[0]!.toUpperCase() + level.slice(1)} rules
          <textarea
            rows={2}
            value={value[level]}
            placeholder={level === 'ask' ? 'Write, Bash(git push:*)' : ''}
            onInput={(e) => onChange({ ...value, [level]: e.currentTarget.value })}
          />
        </label>
      ))}
    </fieldset>
  );
}
