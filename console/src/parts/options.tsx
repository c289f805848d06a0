// The turn options a person may set at creation or for one turn: model, effort and permission rules, as request body members.
import { NO_RULES, RulesFields, rulesBody, type RuleLists } from './rules';

export interface TurnOptions {
  model: string;
  effort: string;
  rules: RuleLists;
}

export const NO_OPTIONS: TurnOptions = { model: '', effort: '', rules: NO_RULES };

const EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max'];

/** The body members for the options that were set (none for an empty field). */
export function optionsBody(o: TurnOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (o.model.trim()) body.model = o.model.trim();
  if (o.effort) body.effort = o.effort;
  const permission_rules = rulesBody(o.rules);
  if (permission_rules) body.permission_rules = permission_rules;
  return body;
}

/** `unset` names what an empty field means ("default", "session's"). */
export function OptionFields({
  value,
  onChange,
  unset,
}: {
  value: TurnOptions;
  onChange: (v: TurnOptions) => void;
  unset: string;
}) {
  return (
    <>
      <label>
        Model
        <input
          value={value.model}
          onInput={(e) => onChange({ ...value, model: e.currentTarget.value })}
          placeholder={unset}
        />
      </label>
      <label>
        Effort
        <select value={value.effort} onChange={(e) => onChange({ ...value, effort: e.currentTarget.value })}>
          <option value="">({unset})</option>
          {EFFORTS.map((v) => (
            <option key={v}>{v}</option>
          ))}
        </select>
      </label>
      <RulesFields value={value.rules} onChange={(rules) => onChange({ ...value, rules })} />
    </>
  );
}
