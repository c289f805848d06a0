// Jobs of a session: create one, list them, and open one for its live events, result and webhook deliveries.
import { useEffect, useState } from 'preact/hooks';
import { API, api, enc } from '../api';
import { ListTable } from '../parts/list-table';
import { Empty, Loading, ProblemBox, useAction, useLoad, usd, when } from '../parts/status';
import { TurnView } from '../parts/turn-view';
import { followStream, getStream } from '../sse';
import { applyEvent, type Turn } from '../timeline';
import type { Session } from './sessions';

interface Delivery {
  id: string;
  event: string;
  target: string;
  url: string | null;
  status: string;
  attempts: number;
  log: { attempt: number; at: string; status_code: number | null; error: string | null; duration_ms: number }[];
}

interface Job {
  id: string;
  session: string;
  status: string;
  message: string;
  result: { content: string; cost_usd: number; duration_ms: number } | null;
  error: { title?: string; detail?: string } | null;
  created_at: string;
  finished_at: string | null;
  webhooks: Delivery[];
}

function JobDetail({ session, id, onChanged }: { session: string; id: string; onChanged: () => void }) {
  const job = useLoad(() => api<Job>(`/sessions/${enc(session)}/jobs/${enc(id)}`), [session, id]);
  const [turn, setTurn] = useState<Turn | null>(null);

  useEffect(() => {
    const ctrl = new AbortController();
    setTurn(null);
    let started = false;
    void followStream(getStream(`${API}/sessions/${enc(session)}/jobs/${enc(id)}/events`, ctrl.signal), {
      signal: ctrl.signal,
      onEvent: (e) =>
        setTurn((t) => {
          started = true;
          return applyEvent(
            t ?? { key: id, user: '', text: '', tools: [], pending: [], running: true },
            e.event,
            e.data,
          );
        }),
      onEnd: () => {
        if (started && !ctrl.signal.aborted) {
          job.reload();
          onChanged();
        }
      },
    });
    return () => ctrl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- one stream per job: `job` and `onChanged` are new at each render
  }, [session, id]);

  const j = job.value?.data;
  return (
    <section class="card" aria-label="Job">
      <h2>Job {id.slice(0, 8)}</h2>
      <ProblemBox problem={job.problem} />
      {j && (
        <p>
          <span class={`badge ${j.status}`}>{j.status}</span> {when(j.created_at)}
          {j.result ? ` · ${usd(j.result.cost_usd)} · ${(j.result.duration_ms / 1000).toFixed(1)} s` : ''}
        </p>
      )}
      {turn ? (
        <TurnView session={session} turn={{ ...turn, user: j?.message ?? '' }} onAnswered={() => undefined} />
      ) : (
        <Loading what="events" />
      )}
      {j?.error && <ProblemBox problem={j.error} />}
      <h3>Webhook deliveries</h3>
      <ListTable
        loading={false}
        what="deliveries"
        empty="No webhook messages."
        count={j?.webhooks.length ?? 0}
        columns={['Event', 'Target', 'Status', 'Attempts', 'Last answer']}
      >
        {j?.webhooks.map((w) => {
          const last = w.log[w.log.length - 1];
          return (
            <tr key={w.id}>
              <td data-label="Event">{w.event}</td>
              <td data-label="Target">{w.url ?? w.target}</td>
              <td data-label="Status">{w.status}</td>
              <td data-label="Attempts">{w.attempts}</td>
              <td data-label="Last answer">{last ? (last.error ?? `HTTP ${last.status_code}`) : '—'}</td>
            </tr>
          );
        })}
      </ListTable>
    </section>
  );
}

export function JobsPage() {
  const sessions = useLoad(() => api<Session[]>('/sessions?limit=100'), []);
  const [session, setSession] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [message, setMessage] = useState('');
  const [webhook, setWebhook] = useState('');
  const names = (sessions.value?.data ?? []).map((s) => s.name);
  const current = session || names[0] || '';
  const jobs = useLoad(
    () => (current ? api<Job[]>(`/sessions/${enc(current)}/jobs?limit=50`) : Promise.resolve({ data: [] as Job[] })),
    [current],
  );
  const create = useAction();

  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, unknown> = { message };
    if (webhook.trim()) body.webhook_url = webhook.trim();
    await create.run(async () => {
      const res = await api<Job>(`/sessions/${enc(current)}/jobs`, { method: 'POST', json: body });
      setMessage('');
      setOpen(res.data.id);
      jobs.reload();
    });
  };

  const list = jobs.value?.data ?? [];
  return (
    <section>
      <h1>Jobs</h1>
      <ProblemBox problem={sessions.problem ?? jobs.problem} />
      {sessions.loading && !sessions.value ? (
        <Loading what="sessions" />
      ) : names.length === 0 ? (
        <Empty>Jobs run in a session: create a session first.</Empty>
      ) : (
        <>
          <label>
            Session
            <select
              value={current}
              onChange={(e) => {
                setSession(e.currentTarget.value);
                setOpen(null);
              }}
            >
              {names.map((n) => (
                <option key={n}>{n}</option>
              ))}
            </select>
          </label>
          <form class="card form" onSubmit={submit} aria-label="New job">
            <label>
              Job message
              <textarea rows={2} required value={message} onInput={(e) => setMessage(e.currentTarget.value)} />
            </label>
            <label>
              Webhook URL
              <input
                type="url"
                value={webhook}
                onInput={(e) => setWebhook(e.currentTarget.value)}
                placeholder="https://…"
              />
            </label>
            <button type="submit" disabled={create.busy}>
              Start job
            </button>
            <ProblemBox problem={create.problem} />
          </form>
          <ListTable
            loading={jobs.loading && !jobs.value}
            what="jobs"
            empty="No jobs in this session."
            count={list.length}
            columns={['Job', 'Status', 'Message', 'Created']}
          >
            {list.map((j) => (
              <tr key={j.id}>
                <td data-label="Job">
                  <button
                    type="button"
                    class="link"
                    onClick={() => setOpen(j.id)}
                    aria-label={`Open job ${j.id.slice(0, 8)}`}
                  >
                    {j.id.slice(0, 8)}
                  </button>
                </td>
                <td data-label="Status">
                  <span class={`badge ${j.status}`}>{j.status}</span>
                </td>
                <td data-label="Message" class="clip">
                  {j.message}
                </td>
                <td data-label="Created">{when(j.created_at)}</td>
              </tr>
            ))}
          </ListTable>
          {open && <JobDetail key={open} session={current} id={open} onChanged={jobs.reload} />}
        </>
      )}
    </section>
  );
}
