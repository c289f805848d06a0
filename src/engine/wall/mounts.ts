// What a session's wall shows: the bubblewrap arguments for its namespaces and mounts (system folders read-only, its own workspace, config folder, /tmp and model socket).
import { existsSync, lstatSync, readlinkSync } from 'node:fs';

/** Inside every wall, the proxy's socket is here (ANTHROPIC_UNIX_SOCKET). */
export const MODEL_SOCKET = '/run/claude-code-api/model.sock';

/** Size of the wall's in-memory /tmp (the session's temporary folder inside it is on disk). */
const TMP_BYTES = 64 * 1024 * 1024;

/** Top-level system folders bound read-only (or re-made as the symlinks they are on a merged-/usr host). */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** The parts of /etc programs need to run; never the whole of it (shadow, ssh keys, the server's own files). */
const ETC_FILES = [
  'alternatives',
  'bash.bashrc',
  'ca-certificates',
  'ca-certificates.conf',
  'gai.conf',
  'gitconfig',
  'group',
  'host.conf',
  'hosts',
  'inputrc',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'mime.types',
  'nsswitch.conf',
  'os-release',
  'passwd',
  'profile',
  'protocols',
  'services',
  'ssl',
  'terminfo',
  'timezone',
];

export interface WallMounts {
  /** Folders of the CLI itself (its package folder, node when the CLI is a script), bound read-only at their own paths. */
  programDirs: string[];
  /** The session's working directory: bound from this open descriptor (fd number in the child) at this path. */
  workspace: { fd: number; path: string };
  /** The session's own CLAUDE_CONFIG_DIR (also its HOME), read-write at its own path. */
  configDir: string;
  /** The session's temporary folder (CLAUDE_CODE_TMPDIR), on disk, bound at its own path inside the wall's /tmp. */
  tmpDir: string;
  /** The proxy socket of the session on the host, bound at MODEL_SOCKET. */
  socket: string;
}

function systemDir(path: string): string[] {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return [];
  }
  if (st.isSymbolicLink()) return ['--symlink', readlinkSync(path), path];
  return st.isDirectory() ? ['--ro-bind', path, path] : [];
}

/** The bwrap arguments before `--` (the command follows). */
export function bwrapArgs(m: WallMounts): string[] {
  const args = [
    // Own user, pid, network, IPC, UTS and cgroup namespaces: no host process, no network but the socket below.
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    ...SYSTEM_DIRS.flatMap(systemDir),
    ...ETC_FILES.flatMap((f) => (existsSync(`/etc/${f}`) ? ['--ro-bind', `/etc/${f}`, `/etc/${f}`] : [])),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    // A private /tmp in memory, then the session's own folder on disk inside it (the guard knows it by that path).
    '--size',
    String(TMP_BYTES),
    '--tmpfs',
    '/tmp',
    '--bind',
    m.tmpDir,
    m.tmpDir,
    ...m.programDirs.flatMap((d) => ['--ro-bind', d, d]),
    '--bind',
    m.configDir,
    m.configDir,
    '--bind-fd',
    String(m.workspace.fd),
    m.workspace.path,
    '--bind',
    m.socket,
    MODEL_SOCKET,
    '--chdir',
    m.workspace.path,
  ];
  return args;
}
