// An approval or question waiting for a person, answered inline: Allow / Deny (optionally remembered) or the chosen options.
import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import type { Pending } from '../timeline';
import { ProblemBox, useAction } from './status';

export function ApprovalCard({
  session,
  item,
  tenant,
  onAnswered,
}: {
  session: string;
  item: Pending;
  /** The session's tenant, sent as X-Tenant (an admin answering from the inbox); the chosen tenant otherwise. */
  tenant?: string;
  onAnswered: (text: string) => void;
}) {
  const [remember, setRemember] = useState('');
  const [choice, setChoice] = useState<Record<string, string>>({});
  const action = useAction();

  const decide = (decision: 'allow' | 'deny') =>
    action.run(async () => {
      const kind = item.kind === 'approval' ? 'approvals' : 'questions';
      const body: Record<string, unknown> = { decision };
      if (item.kind === 'approval' && remember) body.remember = remember;
      await api(`/sessions/${enc(session)}/${kind}/${enc(item.id)}`, { method: 'POST', json: body, tenant });
      onAnswered(decision === 'allow' ? 'Allowed' : 'Denied');
    });

  const answer = () =>
    action.run(async () => {
      await api(`/sessions/${enc(session)}/questions/${enc(item.id)}`, {
        method: 'POST',
        json: { answers: choice },
        tenant,
      });
      onAnswered('Answered');
    });

  if (item.answered)
    return (
      <p class="decided">
        {item.answered}: {item.tool ?? 'question'}
      </p>
    );
  return (
    <div class="approval" role="group" aria-label={item.kind === 'approval' ? `Approval for ${item.tool}` : 'Question'}>
      {item.kind === 'approval' ? (
        <>
          <p>
            <strong>{item.tool}</strong> waits for your approval
            {item.rule ? <span class="muted"> (rule {item.rule})</span> : null}
          </p>
          <pre class="code">{JSON.stringify(item.input, null, 2)}</pre>
          <div class="row">
            <button type="button" onClick={() => decide('allow')} disabled={action.busy}>
              Allow
            </button>
            <button type="button" class="danger" onClick={() => decide('deny')} disabled={action.busy}>
              Deny
            </button>
            <label class="inline">
              Remember
              <select value={remember} onChange={(e) => setRemember(e.currentTarget.value)}>
                <option value="">this call only</option>
                <option value="session">for this session</option>
                <option value="key">for this key</option>
              </select>
            </label>
          </div>
        </>
      ) : (
        <>
          {(item.questions ?? []).map((q) => (
            <fieldset key={q.question}>
              <legend>{q.question}</legend>
              {q.options.map((o) => (
                <label key={o.label} class="inline">
                  <input
                    type="radio"
                    name={`${item.id}-${q.question}`}
                    checked={choice[q.question] === o.label}
                    onChange={() => setChoice({ ...choice, [q.question]: o.label })}
                  />
                  {o.label}
                  {o.description ? <span class="muted"> — {o.description}</span> : null}
                </label>
              ))}
            </fieldset>
          ))}
          <div class="row">
            <button type="button" onClick={answer} disabled={action.busy}>
              Answer
            </button>
            <button type="button" class="danger" onClick={() => decide('deny')} disabled={action.busy}>
              Deny
            </button>
          </div>
        </>
      )}
      <ProblemBox problem={action.problem} />
    </div>
  );
}
