// The messages of every call, read field by field. A Reply, Call or Invoke as runtable writes it
// (a map with a 16-bit count, its keys in the order of docs/PROTOCOL.md's examples: cbor-encode.ts)
// is read here without building a generic map and validating it. Anything else, or the same
// message written differently (another encoder, another key order), does not match and goes
// through decodeCbor and validate.ts instead; a match gives exactly what those would. Only the
// bytes before the first value that a hook could see decide the match, so a message is never
// read twice with effects.
//
// The keys are compared byte by byte against constants, in line: a loop over arrays of expected
// bytes, or helpers that V8 did not always inline, cost about twice the instructions
// (docs/PERFORMANCE.md, (b) session 7). The message is `bytes` from `start` to `end`: a frame read
// in place in a view of its whole read (cbor-decode.ts wholeView()), so a byte past the end is the
// next frame's, or undefined. Only a message cut short reads there, and then readAt(), bounded by
// `end`, throws as decodeCbor would on it.

import { readAt, readEnd, type TagHooks } from './cbor-decode.js';
import { SHORT_STRING_BYTES, shortAsciiKey } from './short-strings.js';

/** Where the integer that smallUint() read last ends. */
let uintEnd = 0;

/** An unsigned integer of at most 32 bits at `at`, its end in uintEnd; or -1 (for validate.ts to judge). */
function smallUint(b: Uint8Array, at: number, end: number): number {
  const head = b[at] as number;
  if (head < 0x18) {
    uintEnd = at + 1;
    return head;
  }
  switch (head) {
    case 0x18:
      if (at + 2 > end) return -1;
      uintEnd = at + 2;
      return b[at + 1] as number;
    case 0x19:
      if (at + 3 > end) return -1;
      uintEnd = at + 3;
      return ((b[at + 1] as number) << 8) | (b[at + 2] as number);
    case 0x1a:
      if (at + 5 > end) return -1;
      uintEnd = at + 5;
      return (
        (b[at + 1] as number) * 0x100_0000 +
        (((b[at + 2] as number) << 16) | ((b[at + 3] as number) << 8) | (b[at + 4] as number))
      );
    default:
      // Another major type, a 64-bit integer, or past the end (undefined).
      return -1;
  }
}

function trailing(end: number, at: number): never {
  throw new Error(`${end - at} bytes follow the CBOR value`);
}

let envelopeValue: unknown;

/** The value of the Reply that decodeReply matched last (read once: it is then dropped). */
export function takeReplyValue(): unknown {
  const value = envelopeValue;
  envelopeValue = undefined;
  return value;
}

/**
 * A Reply in `bytes`: its id, with its value for takeReplyValue(); -1 if the bytes are not a
 * Reply as runtable writes it. Throws, as decodeCbor would, if the value cannot be decoded.
 */
export function decodeReply(bytes: Uint8Array, tagHooks: TagHooks, start = 0, end = bytes.length): number {
  const b = bytes;
  const s = start;
  // `{ kind: 40, id: ` with a 16-bit count of 3.
  if (
    end - s < 14 ||
    b[s] !== 0xb9 ||
    b[s + 1] !== 0x00 ||
    b[s + 2] !== 0x03 ||
    b[s + 3] !== 0x64 ||
    b[s + 4] !== 0x6b ||
    b[s + 5] !== 0x69 ||
    b[s + 6] !== 0x6e ||
    b[s + 7] !== 0x64 ||
    b[s + 8] !== 0x18 ||
    b[s + 9] !== 0x28 ||
    b[s + 10] !== 0x62 ||
    b[s + 11] !== 0x69 ||
    b[s + 12] !== 0x64
  ) {
    return -1;
  }
  const id = smallUint(b, s + 13, end);
  if (id < 0) return -1;
  const at = uintEnd;
  if (
    b[at] !== 0x65 ||
    b[at + 1] !== 0x76 ||
    b[at + 2] !== 0x61 ||
    b[at + 3] !== 0x6c ||
    b[at + 4] !== 0x75 ||
    b[at + 5] !== 0x65
  ) {
    return -1;
  }
  // Inside the reply map, as decodeCbor would count it.
  envelopeValue = readAt(b, at + 6, end, 1, tagHooks);
  if (readEnd !== end) trailing(end, readEnd);
  return id;
}

/** What decodeCall gives: the message as decodeCbor would. */
export interface CallEnvelope {
  kind: number;
  target?: number;
  ref?: number;
  method: string;
  args: unknown[];
  stack?: boolean;
  id: number;
}

let callExact = false;

/** Whether the message decodeCall gave last was exactly a Call or Invoke as runtable writes it: valid as it is. */
export function lastCallExact(): boolean {
  return callExact;
}

/**
 * A Call (kind 30) or Invoke (31) in `bytes`, or undefined if they do not start as runtable
 * writes one. The first four fields are read without a generic map; fields after the arguments
 * that are not the usual ones (a newer peer's optional field) are read as decodeCbor would read
 * them, into the same object, and callExact is then false: validate.ts must judge it. Throws, as
 * decodeCbor would, if the message cannot be decoded.
 */
export function decodeCall(
  bytes: Uint8Array,
  tagHooks: TagHooks,
  start = 0,
  end = bytes.length,
): CallEnvelope | undefined {
  const b = bytes;
  const s = start;
  if (end - s < 12 || b[s] !== 0xb9 || b[s + 1] !== 0x00) return undefined;
  const count = b[s + 2] as number;
  // "kind", then a kind of one byte.
  if (
    count < 5 ||
    b[s + 3] !== 0x64 ||
    b[s + 4] !== 0x6b ||
    b[s + 5] !== 0x69 ||
    b[s + 6] !== 0x6e ||
    b[s + 7] !== 0x64
  )
    return undefined;
  if (b[s + 8] !== 0x18) return undefined;
  const kind = b[s + 9] as number;
  let at: number;
  if (kind === 30) {
    // "target"
    if (
      b[s + 10] !== 0x66 ||
      b[s + 11] !== 0x74 ||
      b[s + 12] !== 0x61 ||
      b[s + 13] !== 0x72 ||
      b[s + 14] !== 0x67 ||
      b[s + 15] !== 0x65 ||
      b[s + 16] !== 0x74
    ) {
      return undefined;
    }
    at = s + 17;
  } else if (kind === 31) {
    // "ref"
    if (b[s + 10] !== 0x63 || b[s + 11] !== 0x72 || b[s + 12] !== 0x65 || b[s + 13] !== 0x66) return undefined;
    at = s + 14;
  } else return undefined;
  const targetId = smallUint(b, at, end);
  if (targetId < 0) return undefined;
  at = uintEnd;
  // "method", then a text.
  if (
    b[at] !== 0x66 ||
    b[at + 1] !== 0x6d ||
    b[at + 2] !== 0x65 ||
    b[at + 3] !== 0x74 ||
    b[at + 4] !== 0x68 ||
    b[at + 5] !== 0x6f ||
    b[at + 6] !== 0x64
  ) {
    return undefined;
  }
  at += 7;
  const size = (b[at] as number) - 0x60;
  if (!(size >= 0 && size < 0x20)) return undefined;
  // From the key cache: the same string each call, whose hash is kept and which V8 has
  // internalized once the method was looked up by it (Set.has, the property read).
  let method = size <= SHORT_STRING_BYTES && at + 1 + size <= end ? shortAsciiKey(b, at + 1, size) : undefined;
  if (method !== undefined) at += 1 + size;
  else {
    method = readAt(b, at, end, 1, tagHooks, true) as string;
    at = readEnd;
  }
  // "args", then an array.
  if (b[at] !== 0x64 || b[at + 1] !== 0x61 || b[at + 2] !== 0x72 || b[at + 3] !== 0x67 || b[at + 4] !== 0x73) {
    return undefined;
  }
  at += 5;
  if ((b[at] as number) >> 5 !== 4) return undefined;
  // From here on a hook may have run (a reference in the arguments): the message is read to
  // its end whatever follows, never read again.
  const args = readAt(b, at, end, 1, tagHooks) as unknown[];
  at = readEnd;
  // "id", then the id: the end.
  if (count === 5 && b[at] === 0x62 && b[at + 1] === 0x69 && b[at + 2] === 0x64) {
    const id = smallUint(b, at + 3, end);
    if (id >= 0 && uintEnd === end) {
      callExact = true;
      return kind === 30 ? { kind, target: targetId, method, args, id } : { kind, ref: targetId, method, args, id };
    }
  }
  if (count === 6) {
    const stack = exactStack(b, at);
    if (stack !== undefined) {
      const id = smallUint(b, at + 10, end);
      if (id >= 0 && uintEnd === end) {
        callExact = true;
        return kind === 30
          ? { kind, target: targetId, method, args, stack, id }
          : { kind, ref: targetId, method, args, stack, id };
      }
    }
  }
  // Something else follows: the rest of the map as map() reads it.
  callExact = false;
  const object: Record<string, unknown> =
    kind === 30 ? { kind, target: targetId, method, args } : { kind, ref: targetId, method, args };
  for (let i = 4; i < count; i++) {
    const name = readAt(b, at, end, 1, tagHooks, true) as string;
    const value = readAt(b, readEnd, end, 1, tagHooks);
    at = readEnd;
    // An own key, as JSON.parse makes it: assigning would set the object's prototype instead.
    if (name === '__proto__') {
      Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
    } else object[name] = value;
  }
  if (at !== end) trailing(end, at);
  return object as unknown as CallEnvelope;
}

/** `"stack": true` or `false` then `"id"`, at `at`: the flag, or undefined if they are not there. */
function exactStack(b: Uint8Array, at: number): boolean | undefined {
  if (
    b[at] !== 0x65 ||
    b[at + 1] !== 0x73 ||
    b[at + 2] !== 0x74 ||
    b[at + 3] !== 0x61 ||
    b[at + 4] !== 0x63 ||
    b[at + 5] !== 0x6b ||
    b[at + 7] !== 0x62 ||
    b[at + 8] !== 0x69 ||
    b[at + 9] !== 0x64
  ) {
    return undefined;
  }
  const flag = b[at + 6];
  return flag === 0xf5 ? true : flag === 0xf4 ? false : undefined;
}
