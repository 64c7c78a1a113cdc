// What a moniker may be. Checked by the client before it sends, and again by the broker, which
// trusts nobody.

import { RuntableError } from '../errors.js';

export const MAX_MONIKER_BYTES = 512;

// C0 and C1 control characters, and DEL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

export function checkMoniker(moniker: unknown): asserts moniker is string {
  if (typeof moniker !== 'string') throw new RuntableError('BAD_MONIKER', 'a moniker must be a string');
  if (moniker.length === 0) throw new RuntableError('BAD_MONIKER', 'a moniker must not be empty');
  const bytes = Buffer.byteLength(moniker);
  if (bytes > MAX_MONIKER_BYTES) {
    throw new RuntableError('BAD_MONIKER', `moniker is ${bytes} bytes of UTF-8; the limit is ${MAX_MONIKER_BYTES}`);
  }
  if (CONTROL_CHARACTERS.test(moniker)) {
    throw new RuntableError('BAD_MONIKER', `moniker ${JSON.stringify(moniker)} contains control characters`);
  }
  if (!moniker.isWellFormed()) {
    throw new RuntableError('BAD_MONIKER', 'moniker is not well-formed Unicode (lone surrogate)');
  }
}

/** Prefixes follow the same rules as monikers, except that the empty prefix matches everything. */
export function checkPrefix(prefix: unknown): asserts prefix is string {
  if (prefix === '') return;
  checkMoniker(prefix);
}
