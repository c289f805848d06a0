// Download helpers: Range parsing (single ranges, suffixes, unsatisfiable, ignored forms), If-Range, If-None-Match, content types, Content-Disposition.
import type { BigIntStats } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contentDisposition, contentTypeOf, etagOf, noneMatch, rangeOf } from '../../src/http/download.js';

const E = '"abc-1-2"';
const range = (header: string | undefined, size = 100, ifRange?: string) => rangeOf(header, size, ifRange, E);

describe('rangeOf', () => {
  it('serves single byte ranges, clamped to the file', () => {
    expect(range('bytes=0-9')).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(range('bytes=90-')).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(range('bytes=90-1000')).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(range('bytes=-10')).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(range('bytes=-1000')).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(range('Bytes = 5 - 5')).toEqual({ kind: 'partial', start: 5, end: 5 });
  });

  it('answers unsatisfiable for a start past the end, an empty suffix, or any range of an empty file', () => {
    expect(range('bytes=100-')).toEqual({ kind: 'unsatisfiable' });
    expect(range('bytes=100-200')).toEqual({ kind: 'unsatisfiable' });
    expect(range('bytes=-0')).toEqual({ kind: 'unsatisfiable' });
    expect(range('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    expect(range('bytes=-5', 0)).toEqual({ kind: 'unsatisfiable' });
  });

  it('ignores (whole file) other units, several ranges, bad syntax and reversed ranges', () => {
    for (const h of [
      undefined,
      '',
      'items=0-1',
      'bytes=0-1,5-6',
      'bytes=a-b',
      'bytes=-',
      'bytes=5-1',
      'bytes 0-1',
      'bytes=0x1-2',
      'bytes=1.5-2',
    ]) {
      expect(range(h), String(h)).toEqual({ kind: 'full' });
    }
  });

  it('honours If-Range only when it is our strong ETag', () => {
    expect(range('bytes=0-1', 100, E)).toEqual({ kind: 'partial', start: 0, end: 1 });
    expect(range('bytes=0-1', 100, `W/${E}`)).toEqual({ kind: 'full' });
    expect(range('bytes=0-1', 100, '"other"')).toEqual({ kind: 'full' });
    expect(range('bytes=0-1', 100, 'Tue, 24 Nov 2026 19:43:56 GMT')).toEqual({ kind: 'full' });
  });
});

describe('ETag and If-None-Match', () => {
  it('builds a strong tag from inode, size and mtime in nanoseconds', () => {
    const stats = { ino: 255n, size: 16n, mtimeNs: 4096n } as BigIntStats;
    expect(etagOf(stats)).toBe('"ff-10-1000"');
  });

  it('matches with the weak comparison, in lists, and *', () => {
    expect(noneMatch(E, E)).toBe(true);
    expect(noneMatch(`W/${E}`, E)).toBe(true);
    expect(noneMatch(`"x", ${E}`, E)).toBe(true);
    expect(noneMatch('*', E)).toBe(true);
    expect(noneMatch('"x"', E)).toBe(false);
    expect(noneMatch(undefined, E)).toBe(false);
  });
});

describe('content type and disposition', () => {
  it('picks the type by extension, case-insensitively, octet-stream otherwise', () => {
    expect(contentTypeOf('a.JSON')).toBe('application/json');
    expect(contentTypeOf('notes.md')).toBe('text/markdown; charset=utf-8');
    expect(contentTypeOf('x.png')).toBe('image/png');
    expect(contentTypeOf('Makefile')).toBe('application/octet-stream');
    expect(contentTypeOf('archive.unknown')).toBe('application/octet-stream');
  });

  it('sends an attachment with an ASCII fallback and the exact UTF-8 name', () => {
    expect(contentDisposition('a.txt')).toBe(`attachment; filename="a.txt"; filename*=UTF-8''a.txt`);
    expect(contentDisposition('résumé "v2".pdf')).toBe(
      `attachment; filename="r_sum_ _v2_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.pdf`,
    );
    expect(contentDisposition("it's (1).txt")).toBe(
      `attachment; filename="it's (1).txt"; filename*=UTF-8''it%27s%20%281%29.txt`,
    );
  });
});
