// The rows of an EntryBatch read straight from their bytes into entries, without the array of
// arrays a generic decode builds first: a List of 10,000 entries is read in one pass over its
// bytes. It reads the rows as the JS broker writes them (broker/entry-rows.ts); on anything else,
// valid CBOR or not, it gives up and the caller decodes the rows the generic way.

import { decode } from '../wire/codec.js';
import type { BatchOwner } from '../wire/protocol.js';
import { SHORT_STRING_BYTES, shortAscii } from '../wire/short-strings.js';
import { isPlainMap } from '../wire/validate.js';
import { MEDIUM_STRING_BYTES, mediumAscii } from './medium-ascii.js';

/** Builds one entry from a row's fields; `owner` and `methodList` are checked already. */
export type RowBuilder<T> = (
  moniker: string,
  owner: BatchOwner,
  object: number,
  methodList: number,
  registeredAt: number,
  changedAt: number,
  metadata: Record<string, unknown> | undefined,
) => T;

const asciiSlice = (Buffer.prototype as unknown as { asciiSlice(this: Uint8Array, start: number, end: number): string })
  .asciiSlice;
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Uint8Array, start: number, end: number): string })
  .utf8Slice;

/** Thrown inside the reader for bytes it does not read; never leaves it. */
const GIVE_UP = new Error('not the rows this reader reads');

const EMPTY = new Uint8Array(0);
let b: Uint8Array = EMPTY;
let p = 0;

/** A uint head's argument below 2³² (major type 0 or the length of another), or GIVE_UP. */
function argument(head: number): number {
  const info = head & 0x1f;
  if (info < 24) return info;
  const at = p;
  if (info === 24) {
    p += 1;
    if (p > b.length) throw GIVE_UP;
    return b[at] as number;
  }
  if (info === 25) {
    p += 2;
    if (p > b.length) throw GIVE_UP;
    return ((b[at] as number) << 8) | (b[at + 1] as number);
  }
  if (info === 26) {
    p += 4;
    if (p > b.length) throw GIVE_UP;
    return (
      (b[at] as number) * 0x100_0000 +
      (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number))
    );
  }
  throw GIVE_UP;
}

function uint(): number {
  if (p >= b.length) throw GIVE_UP;
  const head = b[p++] as number;
  if (head >> 5 !== 0) throw GIVE_UP;
  return argument(head);
}

/** A date's milliseconds: a float64 as the broker writes them, or a small uint. */
function time(view: DataView): number {
  if (p >= b.length) throw GIVE_UP;
  const head = b[p];
  if (head === 0xfb) {
    if (p + 9 > b.length) throw GIVE_UP;
    const value = view.getFloat64(p + 1);
    p += 9;
    if (!Number.isFinite(value)) throw GIVE_UP;
    return value;
  }
  return uint();
}

function text(): string {
  if (p >= b.length) throw GIVE_UP;
  const head = b[p++] as number;
  if (head >> 5 !== 3) throw GIVE_UP;
  const length = argument(head);
  const start = p;
  const end = start + length;
  if (end > b.length) throw GIVE_UP;
  p = end;
  if (length <= SHORT_STRING_BYTES) {
    const short = shortAscii(b, start, length);
    if (short !== undefined) return short;
    return utf8Slice.call(b, start, end);
  }
  let high = 0;
  for (let i = start; i < end; i++) high |= b[i] as number;
  if (high >= 0x80) return utf8Slice.call(b, start, end);
  return length <= MEDIUM_STRING_BYTES ? mediumAscii(b, start, length) : asciiSlice.call(b, start, end);
}

/** Steps over one CBOR item of any kind (the metadata map); its bytes are decoded after. */
function skip(depth: number): void {
  if (depth > 64 || p >= b.length) throw GIVE_UP;
  const head = b[p++] as number;
  const major = head >> 5;
  if ((head & 0x1f) === 31) throw GIVE_UP;
  if (major === 7) {
    const info = head & 0x1f;
    p += info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (p > b.length) throw GIVE_UP;
    return;
  }
  if ((head & 0x1f) === 27) throw GIVE_UP;
  const value = argument(head);
  if (major === 2 || major === 3) {
    p += value;
    if (p > b.length) throw GIVE_UP;
  } else if (major === 4) {
    for (let i = 0; i < value; i++) skip(depth + 1);
  } else if (major === 5) {
    for (let i = 0; i < 2 * value; i++) skip(depth + 1);
  } else if (major === 6) skip(depth + 1);
}

/**
 * Appends the entries of `bytes` (the batch's rows) to `out`, with their owners checked, built by
 * `build`; false, with `out` as it was, if the bytes are not what this reader reads, for the
 * caller to decode the generic way.
 */
export function readRows<T>(
  bytes: Uint8Array,
  owners: Map<number, BatchOwner>,
  build: RowBuilder<T>,
  out: T[],
): boolean {
  const base = out.length;
  if (!readInto(bytes, owners, build, out)) {
    out.length = base;
    return false;
  }
  return true;
}

function readInto<T>(bytes: Uint8Array, owners: Map<number, BatchOwner>, build: RowBuilder<T>, out: T[]): boolean {
  b = bytes;
  p = 0;
  try {
    if (p >= b.length) return false;
    const head = b[p++] as number;
    if (head >> 5 !== 4) return false;
    const count = argument(head);
    // Each row takes more than 8 bytes: a count beyond that is a lie, and nothing is allocated for it.
    if (count * 8 > b.length) return false;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < count; i++) {
      if (p >= b.length) return false;
      const rowHead = b[p++];
      if (rowHead !== 0x86 && rowHead !== 0x87) return false;
      const moniker = text();
      const owner = owners.get(uint());
      if (owner === undefined) return false;
      const object = uint();
      const methodList = uint();
      if (methodList >= owner[2].length) return false;
      const registeredAt = time(view);
      const changedAt = time(view);
      let metadata: Record<string, unknown> | undefined;
      if (rowHead === 0x87) {
        const start = p;
        skip(0);
        const value = decode(b.subarray(start, p));
        if (!isPlainMap(value)) return false;
        metadata = value;
      }
      out.push(build(moniker, owner, object, methodList, registeredAt, changedAt, metadata));
    }
    return p === b.length;
  } catch {
    // GIVE_UP, or the metadata's own decode failed: the generic path names the fault.
    return false;
  } finally {
    b = EMPTY;
  }
}
