// The textual rules of a client's path, checked before the file system is asked anything: NUL, `..`, separators, encoding, length.
import { isAbsolute, sep } from 'node:path';
import { WorkspaceError } from './errors.js';

/** Longest name of one path component, in UTF-8 bytes (NAME_MAX on Linux, macOS and most file systems). */
export const NAME_MAX_BYTES = 255;
/** Longest whole path, in UTF-8 bytes (PATH_MAX on Linux, including the terminating NUL). */
export const PATH_MAX_BYTES = 4095;

/** A client's path split into plain names, relative to some base. */
export interface PathText {
  /** Names from the base down; empty = the base itself. Never `''`, `.` or `..`. */
  segments: string[];
  /** The text ended with `/` (asks for a folder). */
  trailingSlash: boolean;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// C0 controls and DEL. NUL is reported on its own for a clearer message.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0001-\u001F\u007F]/;

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * The checks every path text passes, whatever it is used for. `label` names the field in messages.
 * Refuses: NUL bytes; text that is not valid Unicode (lone surrogates) or holds U+FFFD (the mark of bytes
 * that were not valid UTF-8 when decoded); control characters; backslashes (a Windows separator here would
 * be a literal name and hide a `..`); names over 255 bytes; paths over 4095 bytes.
 */
export function checkText(text: string, label: string): void {
  if (typeof text !== 'string') throw new WorkspaceError(`${label} must be a string`);
  if (text.includes('\0')) throw new WorkspaceError(`${label} must not contain NUL bytes`);
  if (LONE_SURROGATE.test(text) || text.includes('\uFFFD')) throw new WorkspaceError(`${label} is not valid UTF-8`);
  if (CONTROL.test(text)) throw new WorkspaceError(`${label} must not contain control characters`);
  if (text.includes('\\'))
    throw new WorkspaceError(`${label} must use / as the separator; backslashes are not allowed`);
  if (bytes(text) > PATH_MAX_BYTES) throw new WorkspaceError(`${label} is longer than ${PATH_MAX_BYTES} bytes`);
}

/**
 * Splits a relative path into names. Empty segments and `.` are dropped (`a//./b` = `a/b`); any `..` is
 * refused outright, even one that would stay inside, because the kernel resolves `link/..` through the
 * link's target and a string rule can never know where that is.
 */
export function splitRelative(text: string, label: string): PathText {
  checkText(text, label);
  const segments: string[] = [];
  for (const part of text.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new WorkspaceError(`${label} must not contain '..' segments`);
    if (bytes(part) > NAME_MAX_BYTES)
      throw new WorkspaceError(`${label} has a name longer than ${NAME_MAX_BYTES} bytes`);
    segments.push(part);
  }
  return { segments, trailingSlash: text.endsWith('/') && segments.length > 0 };
}

/**
 * Parses a client's path relative to `base`. An absolute path is accepted only when it lies under `base` or
 * one of its `aliases` (the same folder by another name, e.g. before realpath); anything else is `outside`.
 */
export function parseClientPath(text: string, label: string, base: string, aliases: readonly string[] = []): PathText {
  checkText(text, label);
  if (!isAbsolute(text)) return splitRelative(text, label);
  const parsed = splitRelative(text, label);
  for (const root of [base, ...aliases]) {
    const rootSegments = root.split(sep).filter((s) => s !== '' && s !== '.');
    if (rootSegments.length <= parsed.segments.length && rootSegments.every((s, i) => parsed.segments[i] === s)) {
      const segments = parsed.segments.slice(rootSegments.length);
      return { segments, trailingSlash: parsed.trailingSlash && segments.length > 0 };
    }
  }
  throw new WorkspaceError(`${label} is an absolute path outside the allowed folder`, 'outside');
}

/** Checks a single name (e.g. an uploaded file's name): non-empty, no `/`, not `.` or `..`, and the text rules. */
export function checkName(name: string, label: string): string {
  checkText(name, label);
  if (name === '' || name === '.' || name === '..' || name.includes('/'))
    throw new WorkspaceError(`${label} must be a plain file name`);
  if (bytes(name) > NAME_MAX_BYTES) throw new WorkspaceError(`${label} is longer than ${NAME_MAX_BYTES} bytes`);
  return name;
}
