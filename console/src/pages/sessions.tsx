// Sessions page: the caller's sessions (live/busy, cost, last activity), a form to create one, delete and open.
import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import { navigate } from '../router';
import { NO_OPTIONS, OptionFields, optionsBody } from '../parts/options';
import { ListTable } from '../parts/list-table';
import { ProblemBox, useAction, useLoad, usd, when } from '../parts/status';

export interface Session {
  name: string;
  status: string;
  live: boolean;
  busy: boolean;
  owner?: string;
  template: string | null;
  options: Record<string, unknown>;
  totals: { cost_usd: number; turns: number; input_tokens: number; output_tokens: number };
  last_active_at: string | null;
  created_at: string;
  workspace: string;
}

interface Template {
  name: string;
  description?: string;
}

function CreateForm({ onCreated, onCancel }: { onCreated: (name: string) => void; onCancel: () => void }) {
  // Templates are listed as an object keyed by name.
  const templates = useLoad(() => api<Record<string, Template>>('/templates?limit=100'), []);
  const [name, setName] = useState('');
  const [template, setTemplate] = useState('');
  const [options, setOptions] = useState(NO_OPTIONS);
  const action = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = { name: name.trim() };
    if (template) body.template = template;
    Object.assign(body, optionsBody(options));
    if (await action.run(() => api('/sessions', { method: 'POST', json: body }))) onCreated(name.trim());
  };

  return (
    <form class="card form" onSubmit={submit} aria-label="New session">
      <label>
        Session name
        <input required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="review-auth" />
      </label>
      <label>
        Template
        <select value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
          <option value="">(none)</option>
          {Object.values(templates.value?.data ?? {}).map((t) => (
            <option key={t.name} value={t.name}>
              {t.name}
            </option>
          ))}
        </select>
      </label>
      <OptionFields value={options} onChange={setOptions} unset="default" />
      <div class="row">
        <button type="submit" disabled={action.busy}>
          Create
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
      <ProblemBox problem={action.problem} />
    </form>
  );
}

export function SessionsPage() {
  const list = useLoad(() => api<Session[]>('/sessions?limit=100'), []);
  const [creating, setCreating] = useState(false);
  const del = useAction();

  const remove = async (name: string) => {
    if (!confirm(`Delete session ${name} and its history?`)) return;
    if (await del.run(() => api(`/sessions/${enc(name)}`, { method: 'DELETE' }))) list.reload();
  };

  const sessions = list.value?.data ?? [];
  return (
    <section>
      <div class="heading">
        <h1>Sessions</h1>
        <button type="button" onClick={() => setCreating(true)} disabled={creating}>
          New session
        </button>
      </div>
      {creating && (
        <CreateForm onCancel={() => setCreating(false)} onCreated={(name) => navigate(`/sessions/${enc(name)}`)} />
      )}
      <ProblemBox problem={list.problem ?? del.problem} />
      <ListTable
        loading={list.loading && !list.value}
        what="sessions"
        empty="No sessions yet. Create one with “New session”."
        count={sessions.length}
        columns={['Name', 'State', 'Cost', 'Turns', 'Last activity', '']}
      >
        {sessions.map((s) => (
          <tr key={`${s.owner ?? ''}/${s.name}`}>
            <td data-label="Name">
              <a href={`/sessions/${enc(s.name)}`}>{s.name}</a>
              {s.template ? <span class="muted"> · {s.template}</span> : null}
            </td>
            <td data-label="State">
              <span class={`badge ${s.busy ? 'busy' : s.live ? 'live' : ''}`}>
                {s.busy ? 'busy' : s.live ? 'live' : 'idle'}
              </span>
            </td>
            <td data-label="Cost">{usd(s.totals.cost_usd)}</td>
            <td data-label="Turns">{s.totals.turns}</td>
            <td data-label="Last activity">{when(s.last_active_at)}</td>
            <td>
              <button type="button" class="danger small" onClick={() => remove(s.name)} aria-label={`Delete ${s.name}`}>
                Delete
              </button>
            </td>
          </tr>
        ))}
      </ListTable>
      <button type="button" class="secondary small" onClick={list.reload}>
        Refresh
      </button>
    </section>
  );
}
