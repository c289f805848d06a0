// Audit (admins): the audit trail, newest first, filtered by action or session, a page at a time.
import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import { ListTable } from '../parts/list-table';
import { ProblemBox, useLoad, when } from '../parts/status';

interface Row {
  id: number;
  at: string;
  key_id: string | null;
  tenant: string | null;
  action: string;
  session: string | null;
  status: number | null;
  outcome: string;
  method: string | null;
  route: string | null;
}

export function AuditPage() {
  const [action, setAction] = useState('');
  const [page, setPage] = useState(1);
  const query = `/audit?limit=50&page=${page}${action.trim() ? `&action=${enc(action.trim())}` : ''}`;
  const rows = useLoad(() => api<Row[]>(query), [query]);
  const pages = rows.value?.pagination?.pages ?? 1;
  const list = rows.value?.data ?? [];
  return (
    <section>
      <h1>Audit</h1>
      <label>
        Action filter
        <input
          value={action}
          onInput={(e) => {
            setAction(e.currentTarget.value);
            setPage(1);
          }}
          placeholder="session.create"
        />
      </label>
      <ProblemBox problem={rows.problem} />
      <ListTable
        loading={rows.loading && !rows.value}
        what="the audit trail"
        empty="No audit rows."
        count={list.length}
        columns={['When', 'Action', 'Session', 'Key', 'Outcome']}
      >
        {list.map((r) => (
          <tr key={r.id}>
            <td data-label="When">{when(r.at)}</td>
            <td data-label="Action">{r.action}</td>
            <td data-label="Session">{r.session ?? '—'}</td>
            <td data-label="Key">{r.key_id ?? '—'}</td>
            <td data-label="Outcome">
              {r.outcome}
              {r.status ? ` (${r.status})` : ''}
            </td>
          </tr>
        ))}
      </ListTable>
      <div class="row">
        <button type="button" class="secondary" disabled={page <= 1} onClick={() => setPage(page - 1)}>
          Previous page
        </button>
        <span class="muted">
          page {page} of {pages}
        </span>
        <button type="button" class="secondary" disabled={page >= pages} onClick={() => setPage(page + 1)}>
          Next page
        </button>
      </div>
    </section>
  );
}
