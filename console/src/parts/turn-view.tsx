// One turn of the timeline: the user's text, the streamed answer, each tool call (collapsible), waits, errors, cost.
import type { Pending, Turn } from '../timeline';
import { ApprovalCard } from './approval-card';
import { ProblemBox, usd } from './status';

const summaryOf = (input: unknown): string => {
  if (!input || typeof input !== 'object') return '';
  const o = input as Record<string, unknown>;
  const first = o.file_path ?? o.command ?? o.path ?? o.pattern ?? o.url;
  return typeof first === 'string' ? first : '';
};

export function TurnView({
  session,
  turn,
  onAnswered,
}: {
  session: string;
  turn: Turn;
  onAnswered: (p: Pending, text: string) => void;
}) {
  return (
    <article class="turn" aria-label="Turn">
      <div class="msg user">
        <span class="who">You</span>
        <p>{turn.user}</p>
      </div>
      {turn.tools.map((t) => (
        <details key={t.id} class={`tool ${t.isError ? 'failed' : ''}`}>
          <summary>
            <span class="tool-name">{t.name}</span> <code>{summaryOf(t.input)}</code>
            {t.output === undefined ? (
              <span class="muted"> {turn.running ? 'running…' : 'no result'}</span>
            ) : t.isError ? (
              <span class="bad"> error</span>
            ) : (
              <span class="good"> done</span>
            )}
          </summary>
          <h4>Input</h4>
          <pre class="code">{JSON.stringify(t.input, null, 2)}</pre>
          {t.output !== undefined && (
            <>
              <h4>Result</h4>
              {t.output !== '' || !t.truncated ? <pre class="code">{t.output}</pre> : null}
              {t.truncated && (
                <p class="muted">
                  {t.output === ''
                    ? 'Not kept: the turn had already kept as much tool output as it may.'
                    : `Cut: the first ${t.output.length.toLocaleString()} characters were kept.`}
                </p>
              )}
            </>
          )}
        </details>
      ))}
      {turn.pending.map((p) => (
        <ApprovalCard key={p.id} session={session} item={p} onAnswered={(text) => onAnswered(p, text)} />
      ))}
      <div class="msg assistant" aria-live={turn.running ? 'polite' : undefined} aria-busy={turn.running}>
        <span class="who">Claude</span>
        <p class="answer">{turn.text || (turn.running ? '…' : '')}</p>
      </div>
      {turn.error && <ProblemBox problem={turn.error} />}
      <p class="meta muted">
        {turn.running
          ? 'running'
          : `${turn.status ?? ''} · ${usd(turn.costUsd)} · ${turn.durationMs != null ? `${(turn.durationMs / 1000).toFixed(1)} s` : '—'}${turn.model ? ` · ${turn.model}` : ''}`}
      </p>
    </article>
  );
}
