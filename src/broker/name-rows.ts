// The broker's side of NameBatch (protocol.ts): the monikers of a run of the table's sorted index
// written as the CBOR of one array of text strings, straight into one buffer, with no array of
// names made first. The bytes are what the codec writes for the same array of strings.

import { encode } from '../wire/codec.js';
import type { NameBatch } from '../wire/protocol.js';

/** Bytes a name's head takes at most: a moniker is at most 512 bytes (naming/moniker.ts). */
const HEAD_BYTES = 3;

/**
 * The NameBatch of `monikers[sorted[i]]` for i from `start` to `end`, in that order. The buffer
 * is the batch's own: nothing else writes into it later.
 */
export function writeNames(
  monikers: readonly string[],
  sorted: readonly number[],
  start: number,
  end: number,
): NameBatch {
  // Most monikers are ASCII and short; room() grows the buffer for the others.
  let b = Buffer.allocUnsafe(5 + (end - start) * 24);
  let p = head(b, 0, 0x80, end - start);
  for (let i = start; i < end; i++) {
    const moniker = monikers[sorted[i] as number] as string;
    const length = moniker.length;
    if (p + HEAD_BYTES + length * 3 > b.length) {
      const grown = Buffer.allocUnsafe(Math.max(b.length * 2, p + HEAD_BYTES + length * 3));
      b.copy(grown, 0, 0, p);
      b = grown;
    }
    // An ASCII moniker byte by byte (its length in bytes is its length), anything else as the codec writes it.
    const at = p;
    p = head(b, p, 0x60, length);
    for (let j = 0; j < length; j++) {
      const c = moniker.charCodeAt(j);
      if (c >= 0x80) {
        const encoded = encode(moniker);
        b.set(encoded, at);
        p = at + encoded.length;
        break;
      }
      b[p++] = c;
    }
  }
  // A Uint8Array, not a Buffer: the two encode differently (tag 64), and the wire has this one.
  return { names: new Uint8Array(b.buffer, b.byteOffset, p) };
}

/** An item head with an argument below 2³², as the codec writes it; returns the position after it. */
function head(b: Uint8Array, p: number, major: number, value: number): number {
  if (value < 0x18) b[p++] = major | value;
  else if (value < 0x100) {
    b[p++] = major | 0x18;
    b[p++] = value;
  } else if (value < 0x10000) {
    b[p++] = major | 0x19;
    b[p++] = value >> 8;
    b[p++] = value & 0xff;
  } else {
    b[p++] = major | 0x1a;
    b[p++] = value >>> 24;
    b[p++] = (value >> 16) & 0xff;
    b[p++] = (value >> 8) & 0xff;
    b[p++] = value & 0xff;
  }
  return p;
}
