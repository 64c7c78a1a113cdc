// The broker's side of NameBatch (protocol.ts): the monikers of a run of the table's sorted index
// as one text, each followed by a NUL but the last (a NUL is never in a moniker). Joined and
// written by native code, so the first ListNames a broker answers costs about what later ones do.

import type { NameBatch } from '../wire/protocol.js';

/** The NameBatch of `monikers[sorted[i]]` for i from `start` to `end`, in that order. */
export function joinNames(
  monikers: readonly string[],
  sorted: readonly number[],
  start: number,
  end: number,
): NameBatch {
  const names = new Array<string>(end - start);
  for (let i = start; i < end; i++) names[i - start] = monikers[sorted[i] as number] as string;
  return { names: names.join('\u0000') };
}
