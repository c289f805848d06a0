// The app shell: sign-in gate, navigation (admin pages only for admins, the approvals count), the admin's tenant and the page.
import { useEffect, useState } from 'preact/hooks';
import { identify, type Identity } from './identity';
import { currentKey, currentTenant, forgetKey, storeTenant } from './key';
import { ApprovalsPage } from './pages/approvals';
import { AuditPage } from './pages/audit';
import { FilesPage } from './pages/files';
import { JobsPage } from './pages/jobs';
import { KeysPage } from './pages/keys';
import { SessionPage } from './pages/session';
import { SessionsPage } from './pages/sessions';
import { SignIn } from './pages/sign-in';
import { UsagePage } from './pages/usage';
import { Loading, problemOfError } from './parts/status';
import { TenantPicker } from './parts/tenant-picker';
import { usePending, type PendingState } from './pending';
import { navigate, onLinkClick, usePath } from './router';
import type { Problem } from './api';

interface PageProps {
  path: string;
  who: Identity;
  pending: PendingState;
  onTenant: (tenant: string | null) => void;
}

function Page({ path, who, pending, onTenant }: PageProps) {
  const session = /^\/sessions\/([^/]+)(\/files)?\/?$/.exec(path);
  if (session) {
    const name = decodeURIComponent(session[1]!);
    return session[2] ? <FilesPage name={name} /> : <SessionPage name={name} />;
  }
  if (path === '/approvals') return <ApprovalsPage pending={pending} admin={who.admin} onTenant={onTenant} />;
  if (path === '/jobs') return <JobsPage />;
  if (path === '/usage') return <UsagePage />;
  if (path === '/audit' && who.admin) return <AuditPage />;
  if (path === '/keys' && who.admin) return <KeysPage />;
  return <SessionsPage />;
}

export function App() {
  const path = usePath();
  const [who, setWho] = useState<Identity | null>(null);
  const [checking, setChecking] = useState(currentKey() !== null);
  const [problem, setProblem] = useState<Problem | null>(null);

  useEffect(() => {
    const key = currentKey();
    if (!key) return;
    identify(key)
      .then(setWho, (err: unknown) => {
        forgetKey();
        setProblem(problemOfError(err));
      })
      .finally(() => setChecking(false));
  }, []);

  const signOut = () => {
    forgetKey();
    setWho(null);
    navigate('/');
  };

  if (checking) return <Loading what="the console" />;
  if (!who) return <SignIn onSignedIn={setWho} initialProblem={problem} />;
  return <Shell path={path} who={who} onSignOut={signOut} />;
}

function Shell({ path, who, onSignOut }: { path: string; who: Identity; onSignOut: () => void }) {
  const [tenant, setTenant] = useState(currentTenant());
  const pending = usePending();
  const chooseTenant = (t: string | null) => {
    storeTenant(t);
    setTenant(t);
  };
  // Every call now carries the new X-Tenant: what was loaded for the old one is loaded again.
  const { reload } = pending;
  useEffect(() => reload(), [tenant, reload]);
  const count = pending.items?.length ?? 0;

  const links: [string, string][] = [
    ['/', 'Sessions'],
    ['/approvals', 'Approvals'],
    ['/jobs', 'Jobs'],
    ['/usage', 'Usage'],
    ...(who.admin
      ? ([
          ['/audit', 'Audit'],
          ['/keys', 'Keys'],
        ] as [string, string][])
      : []),
  ];
  const active = (href: string) => (href === '/' ? path === '/' || path.startsWith('/sessions') : path === href);
  return (
    <div class="shell" onClick={(e) => onLinkClick(e)}>
      <header class="top">
        <a class="brand" href="/">
          claude-code-api
        </a>
        <nav aria-label="Main">
          {links.map(([href, label]) => (
            <a key={href} href={href} aria-current={active(href) ? 'page' : undefined}>
              {label}
              {href === '/approvals' && count > 0 ? (
                <span class="count" aria-label={`${count} waiting`}>
                  {count}
                </span>
              ) : null}
            </a>
          ))}
        </nav>
        {who.admin ? <TenantPicker tenant={tenant} onChange={chooseTenant} /> : null}
        <span class="who muted">{who.admin ? 'admin' : 'user'}</span>
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main>
        <Page key={tenant ?? ''} path={path} who={who} pending={pending} onTenant={chooseTenant} />
      </main>
    </div>
  );
}
