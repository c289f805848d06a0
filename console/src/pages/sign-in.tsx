// Sign-in page: the API key is checked against the API and then kept in sessionStorage for this tab only.
import { useState } from 'preact/hooks';
import type { Problem } from '../api';
import { identify, type Identity } from '../identity';
import { storeKey } from '../key';
import { ProblemBox, problemOfError } from '../parts/status';

export function SignIn({
  onSignedIn,
  initialProblem,
}: {
  onSignedIn: (who: Identity) => void;
  initialProblem: Problem | null;
}) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(initialProblem);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const who = await identify(key.trim());
      storeKey(key.trim());
      onSignedIn(who);
    } catch (err) {
      setProblem(problemOfError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>claude-code-api</h1>
      <form onSubmit={submit} class="card">
        <label>
          API key
          <input
            type="text"
            class="secret"
            autocomplete="off"
            spellcheck={false}
            required
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ProblemBox problem={problem} />
        <p class="muted">The key stays in this tab's session storage and is sent as the X-API-Key header.</p>
      </form>
    </main>
  );
}
