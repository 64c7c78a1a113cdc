// Reading a NameBatch (protocol.ts), the answer to ListNames: the monikers under a prefix and
// nothing else, one text split at its NULs; no name costs more than its string. The broker's
// side is broker/name-rows.ts.

import { fail } from '../wire/validate.js';

/** The names of a NameBatch; PROTOCOL for anything else. */
export function unpackNames(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) fail('a name batch must be a map');
  const { names } = value as Record<string, unknown>;
  if (typeof names !== 'string') fail('the names of a name batch must be a text string');
  // No moniker is empty: an empty text is no name at all, not one empty name.
  return names === '' ? [] : names.split('\u0000');
}
