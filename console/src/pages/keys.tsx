// Keys (admins): list keys, create one (its secret is shown once, here), revoke.
import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import { ListTable } from '../parts/list-table';
import { ProblemBox, useAction, useLoad, when } from '../parts/status';

interface Key {
  id: string;
  name: string;
  scope: 'user' | 'admin';
  tenant: string;
  source: string;
  prefix: string | null;
  created_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  secret?: string;
}

export function KeysPage() {
  const keys = useLoad(() => api<Key[]>('/keys?limit=100'), []);
  const [name, setName] = useState('');
  const [scope, setScope] = useState<'user' | 'admin'>('user');
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const action = useAction();

  const create = async (e: Event) => {
    e.preventDefault();
    await action.run(async () => {
      const res = await api<Key>('/keys', { method: 'POST', json: { name: name.trim(), scope } });
      setSecret({ name: res.data.name, secret: res.data.secret ?? '' });
      setName('');
      keys.reload();
    });
  };

  const revoke = (k: Key) =>
    action.run(async () => {
      if (!confirm(`Revoke key ${k.name}? Its next request fails.`)) return;
      await api(`/keys/${enc(k.id)}`, { method: 'DELETE' });
      keys.reload();
    });

  const list = keys.value?.data ?? [];
  return (
    <section>
      <h1>Keys</h1>
      <form class="card form" onSubmit={create} aria-label="New key">
        <label>
          Key name
          <input required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Scope
          <select value={scope} onChange={(e) => setScope(e.currentTarget.value as 'user' | 'admin')}>
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit" disabled={action.busy}>
          Create key
        </button>
      </form>
      {secret && (
        <div class="secret-once card" role="status">
          <p>
            The secret of <strong>{secret.name}</strong>, shown this once: copy it now.
          </p>
          <code class="secret-value">{secret.secret}</code>
          <button type="button" class="secondary small" onClick={() => setSecret(null)}>
            Hide secret
          </button>
        </div>
      )}
      <ProblemBox problem={keys.problem ?? action.problem} />
      <ListTable
        loading={keys.loading && !keys.value}
        what="keys"
        empty="No keys."
        count={list.length}
        columns={['Name', 'Scope', 'Tenant', 'Last used', 'State']}
      >
        {list.map((k) => (
          <tr key={k.id}>
            <td data-label="Name">
              {k.name} <span class="muted">{k.prefix ?? k.source}</span>
            </td>
            <td data-label="Scope">{k.scope}</td>
            <td data-label="Tenant">
              <code>{k.tenant}</code>
            </td>
            <td data-label="Last used">{when(k.last_used_at)}</td>
            <td data-label="State">
              {k.revoked_at ? (
                `revoked ${when(k.revoked_at)}`
              ) : k.source === 'db' ? (
                <button type="button" class="danger small" onClick={() => revoke(k)} aria-label={`Revoke ${k.name}`}>
                  Revoke
                </button>
              ) : (
                'from the environment'
              )}
            </td>
          </tr>
        ))}
      </ListTable>
    </section>
  );
}
