// Stop sequences: the earliest one cuts the text, and a streamed text is cut the same wherever its deltas split it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cutAtStop, StopScanner } from '../../../src/http/compat/stop.js';

function streamed(parts: string[], stops: readonly string[]): { text: string; matched: string | undefined } {
  const scanner = new StopScanner(stops);
  let text = parts.map((p) => scanner.push(p)).join('');
  text += scanner.flush();
  return { text, matched: scanner.matched };
}

describe('stop sequences', () => {
  it('cuts at the earliest of several, and leaves a text without one whole', () => {
    expect(cutAtStop('a END b STOP c', ['STOP', 'END'])).toEqual({ text: 'a ', matched: 'END' });
    expect(cutAtStop('nothing here', ['END'])).toEqual({ text: 'nothing here', matched: undefined });
    expect(cutAtStop('text', [])).toEqual({ text: 'text', matched: undefined });
  });

  it('holds back the last characters that could begin a stop sequence until the next delta decides', () => {
    const scanner = new StopScanner(['END']);
    expect(scanner.push('abc E')).toBe('abc');
    expect(scanner.push('N')).toBe(' ');
    expect(scanner.push('X more')).toBe('ENX mo');
    expect(scanner.flush()).toBe('re');
    const cut = new StopScanner(['END']);
    expect(cut.push('abc EN')).toBe('abc ');
    expect(cut.push('D after')).toBe('');
    expect(cut.matched).toBe('END');
    expect(cut.push('more')).toBe('');
    expect(cut.flush()).toBe('');
  });

  it('streams to the same text as the whole answer, however the deltas split it', () => {
    const text = fc.stringMatching(/^[ab ]{0,40}$/);
    fc.assert(
      fc.property(
        text,
        fc.array(fc.nat(40), { maxLength: 6 }),
        fc.constantFrom(['ab'], ['b a', 'aa'], []),
        (t, cuts, stops) => {
          const points = [...new Set(cuts.map((c) => Math.min(c, t.length)))].sort((x, y) => x - y);
          const parts = [0, ...points].map((p, i, all) => t.slice(p, all[i + 1] ?? t.length));
          expect(streamed(parts, stops)).toEqual(cutAtStop(t, stops));
        },
      ),
    );
  });
});
