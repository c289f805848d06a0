// The app shell: sign-in gate, navigation (admin pages only for admins) and the page for the current path.
import { useEffect, useState } from 'preact/hooks';
import { identify, type Identity } from './identity';
import { currentKey, forgetKey } from './key';
import { AuditPage } from './pages/audit';
import { FilesPage } from './pages/files';
import { JobsPage } from './pages/jobs';
import { KeysPage } from './pages/keys';
import { SessionPage } from './pages/session';
import { SessionsPage } from './pages/sessions';
import { SignIn } from './pages/sign-in';
import { UsagePage } from './pages/usage';
import { Loading, problemOfError } from './parts/status';
import { navigate, onLinkClick, usePath } from './router';
import type { Problem } from './api';

function Page({ path, who }: { path: string; who: Identity }) {
  const session = /^\/sessions\/([^/]+)(\/files)?\/?$/.exec(path);
  if (session) {
    const name = decodeURIComponent(session[1]!);
    return session[2] ? <FilesPage name={name} /> : <SessionPage name={name} />;
  }
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

  const links: [string, string][] = [
    ['/', 'Sessions'],
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
            </a>
          ))}
        </nav>
        <span class="who muted">{who.admin ? 'admin' : 'user'}</span>
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main>
        <Page path={path} who={who} />
      </main>
    </div>
  );
}
