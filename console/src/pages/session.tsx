// A session: its timeline (history, then live turns over SSE), the composer with per-turn options, interrupt and waits.
import { useEffect, useRef, useState } from 'preact/hooks';
import { API, api, authHeaders, enc } from '../api';
import { NO_OPTIONS, OptionFields, optionsBody } from '../parts/options';
import { Loading, ProblemBox, useAction, useLoad, usd } from '../parts/status';
import { TurnView } from '../parts/turn-view';
import { followStream, getStream } from '../sse';
import { applyEvent, turnsOfHistory, type HistoryItem, type Pending, type Turn } from '../timeline';
import type { Session } from './sessions';

async function loadHistory(name: string): Promise<Turn[]> {
  const first = await api<HistoryItem[]>(`/sessions/${enc(name)}/history?limit=100`);
  const pages = first.pagination?.pages ?? 1;
  if (pages <= 1) return turnsOfHistory(first.data);
  const last = await api<HistoryItem[]>(`/sessions/${enc(name)}/history?limit=100&page=${pages}`);
  return turnsOfHistory(last.data);
}

interface PendingRow extends Pending {
  turn_id: string;
  kind: 'approval' | 'question';
}

export function SessionPage({ name }: { name: string }) {
  const session = useLoad(() => api<Session>(`/sessions/${enc(name)}`), [name]);
  const history = useLoad(() => loadHistory(name), [name]);
  const [live, setLive] = useState<Turn[]>([]);
  const [message, setMessage] = useState('');
  const [options, setOptions] = useState(NO_OPTIONS);
  const [streaming, setStreaming] = useState(false);
  const send = useAction();
  const interrupt = useAction();
  const abort = useRef<AbortController | null>(null);
  const endRef = useRef<HTMLDivElement>(null);

  const base = `${API}/sessions/${enc(name)}`;
  const update = (key: string, f: (t: Turn) => Turn) => setLive((ts) => ts.map((t) => (t.key === key ? f(t) : t)));

  const follow = (key: string, open: (last: string | undefined) => Promise<Response>, ctrl: AbortController) => {
    setStreaming(true);
    return followStream(open, {
      signal: ctrl.signal,
      onEvent: (e) => {
        update(key, (t) => applyEvent(t, e.event, e.data));
        // The turn has started: the session is busy now.
        if (e.event === 'session') session.reload();
      },
      onProblem: (p) => update(key, (t) => ({ ...t, running: false, status: 'error', error: p.problem })),
      onEnd: () => {
        update(key, (t) => ({ ...t, running: false }));
        setStreaming(false);
        session.reload();
      },
    });
  };

  // A turn already running (started elsewhere, e.g. a job) is followed from its first event, waits included.
  useEffect(() => {
    if (!session.value?.data.busy || abort.current) return;
    const ctrl = new AbortController();
    abort.current = ctrl;
    const key = `attached-${Date.now()}`;
    setLive((ts) => [...ts, { key, user: '(running turn)', text: '', tools: [], pending: [], running: true }]);
    const pending = api<PendingRow[]>(`/sessions/${enc(name)}/approvals`).catch(() => null);
    void pending.then((rows) => {
      if (rows?.data.length) update(key, (t) => ({ ...t, pending: rows.data.map((r) => ({ ...r })) }));
    });
    void follow(key, getStream(`${base}/chat/stream`, ctrl.signal), ctrl);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- attaches when the session turns busy; the page's other values are fixed while it is shown
  }, [session.value?.data.busy]);

  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => endRef.current?.scrollIntoView({ block: 'end' }), [live.length]);

  const submit = async (e?: Event) => {
    e?.preventDefault();
    const text = message.trim();
    if (!text || streaming) return;
    const body: Record<string, unknown> = { message: text };
    Object.assign(body, optionsBody(options));
    const ctrl = new AbortController();
    abort.current = ctrl;
    const key = `live-${Date.now()}`;
    setMessage('');
    setLive((ts) => [...ts, { key, user: text, text: '', tools: [], pending: [], running: true }]);
    await send.run(() =>
      follow(
        key,
        (last) =>
          fetch(`${base}/chat/stream`, {
            method: 'POST',
            headers: {
              ...authHeaders(),
              'Content-Type': 'application/json',
              Accept: 'text/event-stream',
              ...(last ? { 'Last-Event-ID': last } : {}),
            },
            body: JSON.stringify(body),
            signal: ctrl.signal,
          }),
        ctrl,
      ),
    );
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void submit();
    }
  };

  const answered = (key: string) => (p: Pending, text: string) =>
    update(key, (t) => ({ ...t, pending: t.pending.map((x) => (x.id === p.id ? { ...x, answered: text } : x)) }));

  const s = session.value?.data;
  const turns = history.value ?? [];
  return (
    <section class="session">
      <div class="heading">
        <h1>{name}</h1>
        <a href={`/sessions/${enc(name)}/files`}>Files</a>
      </div>
      <ProblemBox problem={session.problem ?? history.problem} />
      {s && (
        <p class="muted">
          <span class={`badge ${s.busy ? 'busy' : s.live ? 'live' : ''}`}>
            {s.busy ? 'busy' : s.live ? 'live' : 'idle'}
          </span>{' '}
          {s.template ? `template ${s.template} · ` : ''}
          {s.totals.turns} turns · {usd(s.totals.cost_usd)}
        </p>
      )}
      <div class="timeline" aria-label="Conversation">
        {history.loading && !history.value ? <Loading what="the conversation" /> : null}
        {!history.loading && turns.length === 0 && live.length === 0 ? <p class="empty">No messages yet.</p> : null}
        {turns.map((t) => (
          <TurnView key={t.key} session={name} turn={t} onAnswered={() => undefined} />
        ))}
        {live.map((t) => (
          <TurnView key={t.key} session={name} turn={t} onAnswered={answered(t.key)} />
        ))}
        <div ref={endRef} />
      </div>
      <form class="composer card" onSubmit={submit}>
        <label class="grow">
          Message
          <textarea
            rows={3}
            value={message}
            onInput={(e) => setMessage(e.currentTarget.value)}
            onKeyDown={onKeyDown}
            placeholder="Enter sends, Shift+Enter starts a new line"
          />
        </label>
        <div class="row">
          <button type="submit" disabled={streaming || !message.trim()}>
            Send
          </button>
          <button
            type="button"
            class="danger"
            disabled={interrupt.busy}
            onClick={() => interrupt.run(() => api(`/sessions/${enc(name)}/interrupt`, { method: 'POST' }))}
          >
            Interrupt
          </button>
        </div>
        <details class="overrides">
          <summary>Options for the next turn</summary>
          <OptionFields value={options} onChange={setOptions} unset="session's" />
        </details>
        <ProblemBox problem={send.problem ?? interrupt.problem} />
      </form>
    </section>
  );
}
