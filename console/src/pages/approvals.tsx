// Approvals: every approval and question waiting for the key, across its sessions, answered in place.
import { enc } from '../api';
import { currentTenant } from '../key';
import { ApprovalCard } from '../parts/approval-card';
import { Empty, Loading, ProblemBox, when } from '../parts/status';
import { cardOf, PENDING_POLL_MS, type PendingState } from '../pending';

export function ApprovalsPage({
  pending,
  admin,
  onTenant,
}: {
  pending: PendingState;
  admin: boolean;
  /** Switches the admin's tenant, so the linked session opens as its owner's. */
  onTenant: (tenant: string | null) => void;
}) {
  const items = pending.items;
  const acting = currentTenant();
  return (
    <section>
      <h1>Approvals</h1>
      <p class="muted">
        Tool calls and questions waiting for a person in your sessions, oldest first (refreshed every{' '}
        {PENDING_POLL_MS / 1000} s and when this tab regains focus).
      </p>
      <ProblemBox problem={pending.problem} />
      {items === null ? (
        <Loading what="the approvals" />
      ) : items.length === 0 ? (
        <Empty>Nothing waits for you.</Empty>
      ) : (
        <ul class="inbox">
          {items.map((item) => (
            <li key={item.id} class="card" aria-label={`${item.kind} in ${item.session}`}>
              <p class="row">
                <a
                  href={`/sessions/${enc(item.session)}`}
                  onClick={() => {
                    if (admin && acting !== item.owner) onTenant(item.owner);
                  }}
                >
                  {item.session}
                </a>
                <span class="muted">
                  {admin ? `${item.owner} · ` : ''}
                  {item.job_id ? `job ${item.job_id} · ` : ''}since {when(item.created_at)} · expires{' '}
                  {when(item.deadline)}
                </span>
              </p>
              <ApprovalCard
                session={item.session}
                item={cardOf(item)}
                tenant={admin ? item.owner : undefined}
                onAnswered={pending.reload}
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
