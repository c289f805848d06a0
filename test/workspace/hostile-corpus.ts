// The hostile-path corpus and the workspace it is aimed at: escapes by `..`, encodings, backslashes, bad UTF-8, look-alikes, symlinks.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';

/**
 * A hostile fixture: `base` is the workspace, `outside` a sibling folder with a secret, `fakeEtc` a stand-in for
 * /etc that tests may safely see written or deleted (they run as root: no test points a mutating call at /etc).
 *
 * base/
 *   sub/file.txt  sub/deeper/x.txt  sub/up -> <outside> (relative link)
 *   .hidden/h.txt  %2e%2e/ (a folder literally named %2e%2e)
 *   link-out -> <outside>          (symlinked parent pointing out)
 *   etc-link -> <fakeEtc>          (symlink "to /etc", safe to hit with writes)
 *   abs-file -> <outside>/secret.txt
 *   in-link -> sub  self -> .      (links that stay inside: allowed)
 *   dangling -> /nonexistent-…     loop1 -> loop2 -> loop1
 */
export interface HostileTree {
  base: string;
  outside: string;
  fakeEtc: string;
}

export const SECRET = 'TOP-SECRET-OUTSIDE';

/** Builds the tree at `<scratch>/<name>`; `outsideRoot` holds the outside folders (default: next to it). */
export function buildHostileTree(scratch: string, name = 'ws', outsideRoot = scratch): HostileTree {
  const base = join(scratch, name);
  const outside = join(outsideRoot, `${name}-outside`);
  const fakeEtc = join(outsideRoot, `${name}-fake-etc`);
  // Emptied, not removed: a session's workspace keeps its folder (its anchor is the folder's device and inode, and a
  // new folder only sometimes gets the old inode number back).
  if (existsSync(base))
    for (const entry of readdirSync(base)) rmSync(join(base, entry), { recursive: true, force: true });
  for (const dir of [
    join(base, 'sub', 'deeper'),
    join(base, '.hidden'),
    join(base, '%2e%2e'),
    join(outside, 'nested'),
    fakeEtc,
  ])
    mkdirSync(dir, { recursive: true });
  writeFileSync(join(base, 'sub', 'file.txt'), 'inside');
  writeFileSync(join(base, 'sub', 'deeper', 'x.txt'), 'deeper');
  writeFileSync(join(base, '.hidden', 'h.txt'), 'hidden');
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  writeFileSync(join(outside, 'nested', 'secret.txt'), SECRET);
  writeFileSync(join(fakeEtc, 'passwd'), `root:x:0:0:${SECRET}`);
  symlinkSync(relative(join(base, 'sub'), outside), join(base, 'sub', 'up'));
  symlinkSync(outside, join(base, 'link-out'));
  symlinkSync(fakeEtc, join(base, 'etc-link'));
  symlinkSync(join(outside, 'secret.txt'), join(base, 'abs-file'));
  symlinkSync('sub', join(base, 'in-link'));
  symlinkSync('.', join(base, 'self'));
  symlinkSync(`/nonexistent-${process.pid}-${Date.now()}`, join(base, 'dangling'));
  symlinkSync('loop2', join(base, 'loop1'));
  symlinkSync('loop1', join(base, 'loop2'));
  return { base, outside, fakeEtc };
}

/** Every file and link below `dir` with its content (files) or target (links), to prove nothing outside changed. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (path: string, rel: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const key = rel ? `${rel}/${name}` : name;
      const st = lstatSync(full);
      if (st.isDirectory()) {
        out[`${key}/`] = '';
        visit(full, key);
      } else if (st.isSymbolicLink()) out[key] = '-> link';
      else out[key] = readFileSync(full, 'utf8');
    }
  };
  visit(dir, '');
  return out;
}

export interface HostileCase {
  /** The path as the resolver receives it (already URL-decoded). */
  path: string;
  why: string;
  /** `reject`: must be refused. `contained`: may be accepted (a literal name) but then only inside. */
  expect: 'reject' | 'contained';
}

const bytes = (...b: number[]) => Buffer.from(b).toString('utf8');

/**
 * At least 50 paths a client might send to escape; `tree` fills in the absolute ones. `neighbours` are other
 * sessions' workspaces (absolute: the same tenant's and other tenants'), aimed at by name, absolutely and via /proc.
 */
export function hostileCorpus(tree: HostileTree, neighbours: readonly string[] = []): HostileCase[] {
  const { base, outside } = tree;
  const o = basename(outside);
  const r = (path: string, why: string): HostileCase => ({ path, why, expect: 'reject' });
  const c = (path: string, why: string): HostileCase => ({ path, why, expect: 'contained' });
  return [
    // plain .. escapes
    r('..', 'parent'),
    r('../', 'parent with slash'),
    r(`../${o}/secret.txt`, 'sibling folder'),
    r('../../../../../../etc/passwd', 'deep climb'),
    r(`sub/../../${o}/secret.txt`, 'escape in the middle'),
    r(`./../${o}`, 'dot then parent'),
    r('sub/./../..', 'dots mixed'),
    r(`sub//../..//${o}`, 'doubled slashes'),
    r('sub/file.txt/..', 'parent of a file'),
    r(`in-link/../../${o}`, '.. after an inside link'),
    r(`self/../${o}`, '.. after a link to .'),
    r(`~/../${o}`, 'tilde is not home'),
    // absolute paths
    r('/etc/passwd', 'absolute /etc'),
    r('/', 'filesystem root'),
    r('//etc/passwd', 'double-slash absolute'),
    r('/./etc/passwd', 'absolute with dot'),
    r(`${outside}/secret.txt`, 'absolute path outside'),
    r(`${base}/../${o}/secret.txt`, 'absolute inside then ..'),
    r(`${base}-outside/secret.txt`, 'absolute sibling sharing the prefix'),
    r(`${base}/link-out/secret.txt`, 'absolute path through a link out'),
    // what a once-decoded URL hands over
    r('../%2e%2e/x', 'decoded .. before an encoded one'),
    c(`%2e%2e/${o}`, 'encoded .. stays a literal name after one decoding'),
    c(`%2e%2e%2f${o}%2fsecret.txt`, 'encoded ../ (literal)'),
    c('%252e%252e%252f', 'double-encoded ../ (literal)'),
    c('..%2f..%2fetc%2fpasswd', 'half-encoded (literal, one name)'),
    c(`%c0%ae%c0%ae/${o}`, 'overlong UTF-8 dots, still encoded (literal)'),
    c('%00', 'encoded NUL (literal)'),
    // backslashes
    r('..\\..\\etc\\passwd', 'Windows separators'),
    r(`sub\\..\\..\\${o}`, 'backslash escape after a folder'),
    r('\\etc\\passwd', 'backslash root'),
    r('C:\\Windows\\system32', 'drive letter'),
    r('\\\\server\\share', 'UNC path'),
    r('..\\..\\', 'encoded backslash %5c, once decoded'),
    // NUL and control characters
    r('a\0b', 'NUL in a name'),
    r('\0', 'only NUL'),
    r('../\0', 'NUL after ..'),
    r('sub/file.txt\0.png', 'NUL truncation trick'),
    r(`\n../${o}`, 'newline'),
    r('sub/\x7f', 'DEL'),
    r('\r\n', 'CRLF'),
    // bad UTF-8 and lone surrogates
    r(bytes(0xc0, 0xae, 0xc0, 0xae), 'overlong UTF-8 dots, decoded (U+FFFD)'),
    r(bytes(0xe0, 0x80, 0xae, 0xe0, 0x80, 0xae) + `/${o}`, 'overlong 3-byte dots'),
    r(bytes(0xed, 0xa0, 0x80), 'encoded surrogate (U+FFFD)'),
    r(bytes(0xff, 0xfe), 'invalid bytes'),
    r('\uD800', 'lone high surrogate'),
    r('\uDC00..', 'lone low surrogate'),
    r('sub/\uFFFD', 'replacement character'),
    // Unicode look-alikes: literal names, never dots or slashes
    c(`\u2024\u2024/${o}`, 'ONE DOT LEADER ×2'),
    c(`\u2025/${o}`, 'TWO DOT LEADER'),
    c(`\uFF0E\uFF0E/${o}`, 'FULLWIDTH FULL STOP ×2'),
    c(`\uFE52\uFE52/${o}`, 'SMALL FULL STOP ×2'),
    c(`..\u2215${o}`, 'DIVISION SLASH'),
    c(`..\u2044${o}`, 'FRACTION SLASH'),
    c(`..\uFF0F${o}`, 'FULLWIDTH SOLIDUS'),
    c(`.\u200B./${o}`, 'zero-width space between dots'),
    c('\u0130\u0307', 'dotted capital I'),
    // odd but literal
    c('....//....//etc/passwd', 'four dots'),
    c(`..;/${o}`, 'dots with semicolon'),
    c(` ../${o}`, 'space before dots'),
    c('file:///etc/passwd', 'URL scheme (a relative path here)'),
    // symlinks
    r('etc-link', 'symlink to (a stand-in for) /etc'),
    r('etc-link/passwd', 'file under a symlink to /etc'),
    r('link-out', 'symlink out'),
    r('link-out/secret.txt', 'symlinked parent out'),
    r('link-out/nested/secret.txt', 'symlinked grandparent out'),
    r('sub/up/secret.txt', 'relative symlink out from a subfolder'),
    r('abs-file', 'symlink to an outside file'),
    r('self/link-out/secret.txt', 'inside link then a link out'),
    r('in-link/up/secret.txt', 'two links, the second out'),
    r('dangling', 'symlink to nothing'),
    r('loop1', 'symlink loop'),
    r('loop1/x', 'below a symlink loop'),
    // the process's own view of the file system, and odd spellings of the base
    r('/proc/self/root/etc/passwd', '/proc/self/root'),
    r(`/proc/self/root${outside}/secret.txt`, '/proc/self/root to the outside folder'),
    r('/proc/self/cwd/../../etc/passwd', '/proc/self/cwd then ..'),
    r('/proc/self/cwd', "the server's own current folder"),
    r('/proc/self/fd/0', 'a descriptor of the server'),
    r(`/proc/${process.pid}/root/etc/passwd`, '/proc/<pid>/root'),
    r(`${base}/..`, 'absolute base then ..'),
    r(`//${base.slice(1)}/../${o}/secret.txt`, 'double-slash base then ..'),
    c(`${base}/.`, 'absolute base with a trailing /.'),
    c(`${base}//./sub/./nope/.`, 'absolute base with // and /./ to a missing name'),
    c('nope/.', 'trailing /. on a missing name'),
    c(`\u2024\u2024\u2215\u2024\u2024\u2215etc\u2215passwd`, 'look-alike dots and slashes in one name'),
    c(`\uFF0E\uFF0E\uFF0F${o}\uFF0Fsecret.txt`, 'fullwidth dots and solidus in one name'),
    // other sessions' workspaces, by name, absolutely and through /proc
    ...neighbours.flatMap((n) => [
      r(`../${basename(n)}/secret.txt`, "a sibling session's folder by name"),
      r(`../../${basename(dirname(n))}/${basename(n)}/secret.txt`, "another tenant's session by tenant and name"),
      r(`${n}/secret.txt`, "another session's workspace, absolute"),
      r(`//${n.slice(1)}//secret.txt`, "another session's workspace with doubled slashes"),
      r(`${n}/./secret.txt/.`, "another session's workspace with /./ and a trailing /."),
      r(`/proc/self/root${n}/secret.txt`, "another session's workspace through /proc/self/root"),
      r(`${base}/../${basename(n)}/secret.txt`, 'the base, then .. to a sibling session'),
    ]),
    // names the OS can't hold
    r('a'.repeat(256), 'name over 255 bytes'),
    r(`sub/${'é'.repeat(128)}`, 'name over 255 bytes in UTF-8'),
    r('a/'.repeat(2100), 'path over 4095 bytes'),
  ];
}
