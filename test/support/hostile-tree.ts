// The set-up the confinement tests share: sessions alpha and beta of the first key and other of the second, and content planted where a session must never reach it (outside the workspaces, in the other sessions, in an old transcript).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEYS, type TestServer } from './server.js';
import { createSession } from './sessions.js';

export interface HostileTree {
  alpha: Awaited<ReturnType<typeof createSession>>;
  beta: Awaited<ReturnType<typeof createSession>>;
  other: Awaited<ReturnType<typeof createSession>>;
  /** A folder beside the workspaces holding secret.txt. */
  outside: string;
  /** The planted transcript: `<CLAUDE_CONFIG_DIR>/projects/planted/<transcript>`. */
  transcript: string;
}

export async function plantHostileTree(t: TestServer, transcriptName: string): Promise<HostileTree> {
  const alpha = await createSession(t, 'alpha', {}, KEYS[0]);
  const beta = await createSession(t, 'beta', {}, KEYS[0]);
  const other = await createSession(t, 'other', {}, KEYS[1]);
  const outside = join(t.dirs.root, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), 'OUTSIDE-FILE-CONTENT\n');
  writeFileSync(join(other.workspace, 'tenant-b.txt'), 'OTHER-TENANT-FILE-CONTENT\n');
  writeFileSync(join(beta.workspace, 'beta.txt'), 'OTHER-SESSION-FILE-CONTENT\n');
  const planted = join(t.cli.configDir, 'projects', 'planted');
  mkdirSync(planted, { recursive: true });
  const transcript = join(planted, transcriptName);
  writeFileSync(transcript, '{"message":"TRANSCRIPT-PLANTED-CONTENT"}\n');
  return { alpha, beta, other, outside, transcript };
}
