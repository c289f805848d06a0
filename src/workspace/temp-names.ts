// The names of the temp files uploads are written to, and how a start-up sweep recognises one a killed server left.
import { randomBytes } from 'node:crypto';

/** Prefix of the temp files uploads are written to (hidden, removed on any failure). */
export const TEMP_PREFIX = '.cca-upload-';
const TEMP_SUFFIX = '.tmp';
const TEMP_ID = /^[0-9a-f]{16}$/;

/** A new temp file name: the prefix, 16 hex digits, `.tmp`. */
export function newTempName(): string {
  return `${TEMP_PREFIX}${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`;
}

/** Whether a name is one newTempName() makes (what a start-up sweeps when a killed server left one; see paths.ts). */
export function isTempName(name: string): boolean {
  return (
    name.startsWith(TEMP_PREFIX) &&
    name.endsWith(TEMP_SUFFIX) &&
    TEMP_ID.test(name.slice(TEMP_PREFIX.length, -TEMP_SUFFIX.length))
  );
}
