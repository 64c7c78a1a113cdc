// Reading a NameBatch (protocol.ts), the answer to ListNames: the monikers under a prefix and
// nothing else, read in one pass by entry-rows-reader.ts for names as the JS broker writes them,
// else by a generic decode. The broker's side is broker/name-rows.ts.

import { decode } from '../wire/codec.js';
import { fail } from '../wire/validate.js';
import { readNames } from './entry-rows-reader.js';

/** The names of a NameBatch, checked; PROTOCOL for anything else. */
export function unpackNames(value: unknown): string[] {
  if (typeof value !== 'object' || value === null) fail('a name batch must be a map');
  const { names: bytes } = value as Record<string, unknown>;
  if (!(bytes instanceof Uint8Array)) fail('a name batch needs its names');
  const read = readNames(bytes);
  if (read) return read;
  let names: unknown;
  try {
    names = decode(bytes);
  } catch (error) {
    fail(`undecodable names: ${(error as Error).message}`);
  }
  if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) {
    fail('the names of a name batch must be an array of text strings');
  }
  return names;
}
