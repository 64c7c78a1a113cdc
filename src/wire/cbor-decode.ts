// runtable's own CBOR decoder, for the profile of docs/PROTOCOL.md section 3. It is private to
// runtable: cbor-x's decoder keeps its tag handlers process-wide, and runtable must change nothing
// for other cbor-x users in the process. It never trusts a length: every size is checked against
// the bytes left before anything is allocated, and it interprets no tag outside the profile.

// Node's Buffer is a getter on globalThis: imported, a hot site reads no getter.
import { Buffer } from 'node:buffer';
import { Tag } from 'cbor-x';
import { SHORT_STRING_BYTES, shortAscii, shortAsciiKey } from './short-strings.js';

/** Containers nested deeper than this make a message undecodable. */
export const MAX_DECODE_DEPTH = 2048;

/** What the decoder asks of its caller for runtable's own tags (21108, 21109). */
export interface TagHooks {
  error(fields: unknown): unknown;
  /** Absent where references cannot travel (a broker connection): tag 21109 is then refused. */
  reference?(value: unknown): unknown;
}

export const ERROR_TAG_NUMBER = 21108;
export const REFERENCE_TAG_NUMBER = 21109;

/**
 * cbor-x's packed tables (51, 6) and shared values (28, 29): refused by name, as docs/PROTOCOL.md
 * promises, so that a peer that sends them learns so instead of getting opaque Tags back.
 */
const REFUSED_TAGS = new Set([6, 28, 29, 51]);

type TypedArrayClass = (new (
  buffer: ArrayBufferLike,
  offset?: number,
  length?: number,
) => ArrayBufferView) & {
  BYTES_PER_ELEMENT: number;
};

interface Layout {
  type: TypedArrayClass;
  little: boolean;
  /** DataView's reader of one element, for a byte order other than the host's. */
  get: (view: DataView, offset: number, little: boolean) => number | bigint;
}

const TYPED_ARRAYS = new Map<number, Layout>();
function typed(tag: number, type: TypedArrayClass, little: boolean, get: Layout['get']): void {
  TYPED_ARRAYS.set(tag, { type, little, get });
}
// RFC 8746: little-endian tags as the encoder writes them, big-endian ones read too.
typed(64, Uint8Array, true, (v, o) => v.getUint8(o));
typed(68, Uint8ClampedArray, true, (v, o) => v.getUint8(o));
typed(72, Int8Array, true, (v, o) => v.getInt8(o));
typed(69, Uint16Array, true, (v, o, l) => v.getUint16(o, l));
typed(65, Uint16Array, false, (v, o, l) => v.getUint16(o, l));
typed(70, Uint32Array, true, (v, o, l) => v.getUint32(o, l));
typed(66, Uint32Array, false, (v, o, l) => v.getUint32(o, l));
typed(71, BigUint64Array, true, (v, o, l) => v.getBigUint64(o, l));
typed(67, BigUint64Array, false, (v, o, l) => v.getBigUint64(o, l));
typed(77, Int16Array, true, (v, o, l) => v.getInt16(o, l));
typed(73, Int16Array, false, (v, o, l) => v.getInt16(o, l));
typed(78, Int32Array, true, (v, o, l) => v.getInt32(o, l));
typed(74, Int32Array, false, (v, o, l) => v.getInt32(o, l));
typed(79, BigInt64Array, true, (v, o, l) => v.getBigInt64(o, l));
typed(75, BigInt64Array, false, (v, o, l) => v.getBigInt64(o, l));
typed(85, Float32Array, true, (v, o, l) => v.getFloat32(o, l));
typed(81, Float32Array, false, (v, o, l) => v.getFloat32(o, l));
typed(86, Float64Array, true, (v, o, l) => v.getFloat64(o, l));
typed(82, Float64Array, false, (v, o, l) => v.getFloat64(o, l));
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const BREAK = Symbol('break');
/** Node's UTF-8 decoder of a byte range; invalid sequences become U+FFFD. */
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Uint8Array, start: number, end: number): string })
  .utf8Slice;

// Called through the prototype's own getters: `src.buffer` and `src.byteOffset` are generic
// loads in V8's optimized code (about 50 ns each here); these calls are not.
const TYPED_ARRAY_PROTOTYPE = Object.getPrototypeOf(Uint8Array.prototype) as object;
const bufferOf = Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTOTYPE, 'buffer')?.get as (
  this: ArrayBufferView,
) => ArrayBufferLike;
const byteOffsetOf = Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTOTYPE, 'byteOffset')?.get as (
  this: ArrayBufferView,
) => number;

// The item being decoded, module-wide as in cbor-x: fields of an object cost more on this path.
let src: Uint8Array = new Uint8Array(0);
let position = 0;
let depth = 0;
let hooks: TagHooks = { error: (fields) => fields };
let view: DataView | undefined;

function fail(message: string): never {
  throw new Error(message);
}

function dataView(): DataView {
  view ??= new DataView(src.buffer, src.byteOffset, src.byteLength);
  return view;
}

function need(count: number): void {
  if (position + count > src.length) fail('unexpected end of CBOR data');
}

/** The argument of an item head, as a number (an 8-byte one too: lengths that big fail the caller's check). */
function argument(info: number): number {
  if (info < 24) return info;
  const at = position;
  switch (info) {
    case 24:
      need(1);
      position = at + 1;
      return src[at] as number;
    case 25:
      need(2);
      position = at + 2;
      return ((src[at] as number) << 8) | (src[at + 1] as number);
    case 26:
      need(4);
      position = at + 4;
      return (
        (src[at] as number) * 0x100_0000 +
        (((src[at + 1] as number) << 16) | ((src[at + 2] as number) << 8) | (src[at + 3] as number))
      );
    case 27:
      need(8);
      position = at + 8;
      return dataView().getUint32(at) * 0x1_0000_0000 + dataView().getUint32(at + 4);
    default:
      return fail(`invalid CBOR additional information ${info}`);
  }
}

function bigArgument(): bigint {
  need(8);
  const value = dataView().getBigUint64(position);
  position += 8;
  return value;
}

/** A definite length that the bytes left can hold: nothing is allocated on a peer's say-so. */
function length(info: number, what: string): number {
  if (info === 31) fail(`indefinite-length ${what}s are not accepted`);
  const count = argument(info);
  if (count > src.length - position) fail(`a ${what} of ${count} bytes runs past the end of the data`);
  return count;
}

function read(): unknown {
  if (position >= src.length) fail('unexpected end of CBOR data');
  const head = src[position++] as number;
  const info = head & 0x1f;
  switch (head >> 5) {
    case 0:
      return info === 27 ? bigArgument() : argument(info);
    case 1:
      return info === 27 ? -1n - bigArgument() : -1 - argument(info);
    case 2: {
      const size = length(info, 'byte string');
      const start = position;
      position += size;
      return Buffer.from(bufferOf.call(src), byteOffsetOf.call(src) + start, size);
    }
    case 3: {
      const size = length(info, 'text string');
      const start = position;
      position += size;
      if (size <= SHORT_STRING_BYTES) {
        const ascii = shortAscii(src, start, size);
        if (ascii !== undefined) return ascii;
      }
      return utf8Slice.call(src, start, start + size);
    }
    case 4:
      return array(info);
    case 5:
      return map(info);
    case 6:
      return tag(argument(info));
    default:
      return simple(info);
  }
}

function enter(): void {
  if (++depth > MAX_DECODE_DEPTH) fail(`values nest deeper than ${MAX_DECODE_DEPTH} levels`);
}

function readOrBreak(): unknown {
  if (position < src.length && src[position] === 0xff) {
    position++;
    return BREAK;
  }
  return read();
}

function array(info: number): unknown[] {
  enter();
  let items: unknown[];
  if (info === 31) {
    items = [];
    for (let item = readOrBreak(); item !== BREAK; item = readOrBreak()) items.push(item);
  } else {
    // Each item takes at least one byte: a count beyond the bytes left is a lie.
    const count = length(info, 'array');
    items = new Array(count);
    for (let i = 0; i < count; i++) items[i] = read();
  }
  depth--;
  return items;
}

function map(info: number): Record<string, unknown> {
  enter();
  const object: Record<string, unknown> = {};
  const count = info === 31 ? Number.POSITIVE_INFINITY : length(info, 'map');
  for (let i = 0; i < count; i++) {
    const key = info === 31 ? readOrBreak() : readKey();
    if (key === BREAK) break;
    const value = read();
    const name = typeof key === 'string' ? key : propertyName(key);
    // An own key, as JSON.parse makes it: assigning would set the object's prototype instead.
    if (name === '__proto__') {
      Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
    } else object[name] = value;
  }
  depth--;
  return object;
}

/** A map key: a short ASCII text from the key cache, anything else as read() reads it. */
function readKey(): unknown {
  // Past the end, `head` is undefined and `size` NaN: read() then fails as it should.
  const size = (src[position] as number) - 0x60;
  if (!(size >= 0 && size <= SHORT_STRING_BYTES) || position + 1 + size > src.length) return read();
  const key = shortAsciiKey(src, position + 1, size);
  if (key === undefined) return read();
  position += 1 + size;
  return key;
}

/** Tag 259: a map whose keys keep their types. */
function explicitMap(): Map<unknown, unknown> {
  need(1);
  const head = src[position++] as number;
  if (head >> 5 !== 5) fail('tag 259 must hold a map');
  const info = head & 0x1f;
  enter();
  const result = new Map<unknown, unknown>();
  const count = info === 31 ? Number.POSITIVE_INFINITY : length(info, 'map');
  for (let i = 0; i < count; i++) {
    const key = info === 31 ? readOrBreak() : read();
    if (key === BREAK) break;
    result.set(key, read());
  }
  depth--;
  return result;
}

function tag(number: number): unknown {
  if (number === 259) return explicitMap();
  const layout = TYPED_ARRAYS.get(number);
  if (layout) return typedArray(layout);
  if (REFUSED_TAGS.has(number)) {
    fail(
      `CBOR tag ${number} is not accepted by runtable (cbor-x's packed tables and shared values are not part of its wire)`,
    );
  }
  enter();
  const content = read();
  depth--;
  switch (number) {
    case 0:
      if (typeof content !== 'string') fail('tag 0 must hold a text string');
      return new Date(content);
    case 1:
      if (typeof content === 'number') return new Date(Math.round(content * 1000));
      if (typeof content === 'bigint') return new Date(Number(content) * 1000);
      return fail('tag 1 must hold a number');
    case 2:
    case 3: {
      if (!(content instanceof Uint8Array)) fail(`tag ${number} must hold a byte string`);
      let value = 0n;
      for (const byte of content) value = (value << 8n) | BigInt(byte);
      return number === 2 ? value : -1n - value;
    }
    case 258:
      if (!Array.isArray(content)) fail('tag 258 must hold an array');
      return new Set(content);
    case ERROR_TAG_NUMBER:
      return hooks.error(content);
    case REFERENCE_TAG_NUMBER:
      if (!hooks.reference) fail('functions and references can only travel in calls, their results and events');
      return hooks.reference(content);
    default:
      // Not in the profile: reaches the application as an opaque Tag, as docs/PROTOCOL.md says.
      return new Tag(content, number);
  }
}

function typedArray(layout: Layout): ArrayBufferView {
  need(1);
  const head = src[position++] as number;
  if (head >> 5 !== 2) fail('a typed array tag must hold a byte string');
  const size = length(head & 0x1f, 'byte string');
  const offset = position;
  position += size;
  const { type, little } = layout;
  const width = type.BYTES_PER_ELEMENT;
  if (size % width !== 0) fail(`a typed array of ${width}-byte elements cannot hold ${size} bytes`);
  const start = src.byteOffset + offset;
  if (width === 1 || (little === LITTLE_ENDIAN_HOST && start % width === 0)) {
    return new type(src.buffer, start, size / width);
  }
  if (little === LITTLE_ENDIAN_HOST) {
    // Unaligned: copied (Buffer's own slice would be a view of the whole pool).
    return new type(Uint8Array.prototype.slice.call(src, offset, offset + size).buffer);
  }
  // Elements of the other byte order: read one by one.
  const elements = new DataView(src.buffer, start, size);
  const result = new type(new ArrayBuffer(size)) as unknown as (number | bigint)[];
  for (let i = 0; i < size / width; i++) result[i] = layout.get(elements, i * width, little);
  return result as unknown as ArrayBufferView;
}

function simple(info: number): unknown {
  switch (info) {
    case 20:
      return false;
    case 21:
      return true;
    case 22:
      return null;
    case 23:
      return undefined;
    case 25: {
      need(2);
      const half = ((src[position] as number) << 8) | (src[position + 1] as number);
      position += 2;
      return float16(half);
    }
    case 26: {
      need(4);
      const value = dataView().getFloat32(position);
      position += 4;
      return value;
    }
    case 27: {
      need(8);
      const value = dataView().getFloat64(position);
      position += 8;
      return value;
    }
    case 31:
      return fail('unexpected CBOR break');
    default:
      return fail(`CBOR simple value ${info} is not accepted`);
  }
}

function float16(half: number): number {
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  const sign = half & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** A map key as a property name, as cbor-x names them; anything costly to print is refused. */
function propertyName(key: unknown): string {
  if (typeof key === 'number' || typeof key === 'boolean' || typeof key === 'bigint') return String(key);
  if (key === null || key === undefined) return String(key);
  return fail(`a map key of type ${typeof key} cannot name a property (send a Map)`);
}

// --- Envelopes: the messages of every call, read field by field ---
//
// A Reply, Call or Invoke as runtable writes it (a map with a 16-bit count, its keys in the order
// of docs/PROTOCOL.md's examples: cbor-encode.ts) is read here without building a generic map
// and validating it. Anything else, or the same message written differently (another encoder,
// another key order), does not match and goes through decodeCbor and validate.ts instead; a match
// gives exactly what those would. Only the bytes before the first value that a hook could see
// decide the match, so a message is never read twice with effects.

const REPLY_HEAD = [0xb9, 0x00, 0x03, 0x64, 0x6b, 0x69, 0x6e, 0x64, 0x18, 0x28, 0x62, 0x69, 0x64];
const VALUE_KEY = [0x65, 0x76, 0x61, 0x6c, 0x75, 0x65];
const KIND_KEY = [0x64, 0x6b, 0x69, 0x6e, 0x64];
const TARGET_KEY = [0x66, 0x74, 0x61, 0x72, 0x67, 0x65, 0x74];
const REF_KEY = [0x63, 0x72, 0x65, 0x66];
const METHOD_KEY = [0x66, 0x6d, 0x65, 0x74, 0x68, 0x6f, 0x64];
const ARGS_KEY = [0x64, 0x61, 0x72, 0x67, 0x73];
const STACK_KEY = [0x65, 0x73, 0x74, 0x61, 0x63, 0x6b];
const ID_KEY = [0x62, 0x69, 0x64];

/** Whether `expected` comes next in `bytes` at `at`. */
function matches(bytes: Uint8Array, at: number, expected: readonly number[]): boolean {
  if (at + expected.length > bytes.length) return false;
  for (let i = 0; i < expected.length; i++) if (bytes[at + i] !== expected[i]) return false;
  return true;
}

/** An unsigned integer of at most 32 bits at `position`, or -1 (for validate.ts to judge). */
function smallUint(bytes: Uint8Array): number {
  if (position >= bytes.length) return -1;
  const head = bytes[position] as number;
  if (head >> 5 !== 0 || (head & 0x1f) > 26) return -1;
  const start = position++;
  try {
    return argument(head & 0x1f);
  } catch {
    position = start;
    return -1;
  }
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
export function decodeReply(bytes: Uint8Array, tagHooks: TagHooks): number {
  if (!matches(bytes, 0, REPLY_HEAD)) return -1;
  const savedSrc = src;
  const savedPosition = position;
  const savedDepth = depth;
  const savedHooks = hooks;
  const savedView = view;
  src = bytes;
  position = REPLY_HEAD.length;
  depth = 0;
  hooks = tagHooks;
  view = undefined;
  try {
    const id = smallUint(bytes);
    if (id < 0 || !matches(bytes, position, VALUE_KEY)) return -1;
    position += VALUE_KEY.length;
    // Inside the reply map, as decodeCbor would count it.
    depth = 1;
    envelopeValue = read();
    if (position !== bytes.length) fail(`${bytes.length - position} bytes follow the CBOR value`);
    return id;
  } finally {
    src = savedSrc;
    position = savedPosition;
    depth = savedDepth;
    hooks = savedHooks;
    view = savedView;
  }
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
export function decodeCall(bytes: Uint8Array, tagHooks: TagHooks): CallEnvelope | undefined {
  if (bytes.length < 12 || bytes[0] !== 0xb9 || bytes[1] !== 0x00) return undefined;
  const count = bytes[2] as number;
  if (count < 5 || !matches(bytes, 3, KIND_KEY) || bytes[8] !== 0x18) return undefined;
  const kind = bytes[9] as number;
  if (kind !== 30 && kind !== 31) return undefined;
  const targetKey = kind === 30 ? TARGET_KEY : REF_KEY;
  const savedSrc = src;
  const savedPosition = position;
  const savedDepth = depth;
  const savedHooks = hooks;
  const savedView = view;
  src = bytes;
  position = 10;
  // Inside the message's map, as decodeCbor would count it.
  depth = 1;
  hooks = tagHooks;
  view = undefined;
  try {
    if (!matches(bytes, position, targetKey)) return undefined;
    position += targetKey.length;
    const targetId = smallUint(bytes);
    if (targetId < 0 || !matches(bytes, position, METHOD_KEY)) return undefined;
    position += METHOD_KEY.length;
    if (position >= bytes.length || (bytes[position] as number) >> 5 !== 3) return undefined;
    // From the key cache: the same string each call, whose hash is kept and which V8 has
    // internalized once the method was looked up by it (Set.has, the property read).
    const method = readKey() as string;
    if (!matches(bytes, position, ARGS_KEY)) return undefined;
    position += ARGS_KEY.length;
    if (position >= bytes.length || (bytes[position] as number) >> 5 !== 4) return undefined;
    // From here on a hook may have run (a reference in the arguments): the message is read to
    // its end whatever follows, never read again.
    const args = read() as unknown[];
    if (count === 5 && matches(bytes, position, ID_KEY)) {
      position += ID_KEY.length;
      const id = smallUint(bytes);
      if (id >= 0 && position === bytes.length) {
        callExact = true;
        return kind === 30 ? { kind, target: targetId, method, args, id } : { kind, ref: targetId, method, args, id };
      }
      position -= ID_KEY.length;
    }
    if (count === 6 && matches(bytes, position, STACK_KEY)) {
      const at = position;
      position += STACK_KEY.length;
      const flag = bytes[position++];
      if ((flag === 0xf4 || flag === 0xf5) && matches(bytes, position, ID_KEY)) {
        position += ID_KEY.length;
        const id = smallUint(bytes);
        if (id >= 0 && position === bytes.length) {
          callExact = true;
          const stack = flag === 0xf5;
          return kind === 30
            ? { kind, target: targetId, method, args, stack, id }
            : { kind, ref: targetId, method, args, stack, id };
        }
      }
      position = at;
    }
    // Something else follows: the rest of the map as map() reads it.
    callExact = false;
    const object: Record<string, unknown> =
      kind === 30 ? { kind, target: targetId, method, args } : { kind, ref: targetId, method, args };
    for (let i = 4; i < count; i++) {
      const key = readKey();
      const value = read();
      const name = typeof key === 'string' ? key : propertyName(key);
      if (name === '__proto__') {
        Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
      } else object[name] = value;
    }
    if (position !== bytes.length) fail(`${bytes.length - position} bytes follow the CBOR value`);
    return object as unknown as CallEnvelope;
  } finally {
    src = savedSrc;
    position = savedPosition;
    depth = savedDepth;
    hooks = savedHooks;
    view = savedView;
  }
}

/** Decodes one CBOR item that fills `bytes` exactly. Binary values are views into `bytes`. */
export function decodeCbor(bytes: Uint8Array, tagHooks: TagHooks): unknown {
  // A hook may decode in turn (it never does today): the outer decode's place is kept, in
  // locals (an object to hold them would be one more allocation per message).
  const savedSrc = src;
  const savedPosition = position;
  const savedDepth = depth;
  const savedHooks = hooks;
  const savedView = view;
  src = bytes;
  position = 0;
  depth = 0;
  hooks = tagHooks;
  view = undefined;
  try {
    const value = read();
    if (position !== bytes.length) fail(`${bytes.length - position} bytes follow the CBOR value`);
    return value;
  } finally {
    src = savedSrc;
    position = savedPosition;
    depth = savedDepth;
    hooks = savedHooks;
    view = savedView;
  }
}
