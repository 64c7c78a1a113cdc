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
/** Where the item being decoded ends in src (frames read in place share one view of their read). */
let limit = 0;

// A view of a whole read's memory, from its start, made once for all the frames in that read
// (wholeView()): a byte string in it becomes a Buffer of that memory without the getters.
let wholeMemory: ArrayBufferLike | undefined;
let wholeSrc: Uint8Array = new Uint8Array(0);

/**
 * A view of all of `memory`, so that a frame in it is read in place from its offset (readAt()'s
 * `end` bounds it) without a view of its own. The last one is kept, and its memory with it, until
 * another memory comes: all the frames of one read are in the same memory.
 */
export function wholeView(memory: ArrayBufferLike): Uint8Array {
  if (memory !== wholeMemory) {
    wholeSrc = new Uint8Array(memory);
    wholeMemory = memory;
  }
  return wholeSrc;
}

function fail(message: string): never {
  throw new Error(message);
}

function dataView(): DataView {
  view ??= new DataView(src.buffer, src.byteOffset, src.byteLength);
  return view;
}

function need(count: number): void {
  if (position + count > limit) fail('unexpected end of CBOR data');
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
  if (count > limit - position) fail(`a ${what} of ${count} bytes runs past the end of the data`);
  return count;
}

function read(): unknown {
  if (position >= limit) fail('unexpected end of CBOR data');
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
      // A frame read in place: src starts at its memory's start, whose object is at hand.
      if (src === wholeSrc) return Buffer.from(wholeMemory as ArrayBuffer, start, size);
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
  if (position < limit && src[position] === 0xff) {
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
  if (!(size >= 0 && size <= SHORT_STRING_BYTES) || position + 1 + size > limit) return read();
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

/** Where the item that readAt() read last ends in its bytes. */
export let readEnd = 0;

/**
 * One item of `bytes` from `at`, ending by `end`, inside `level` containers (a message's field:
 * 1), as read() reads it, or as map() reads a key if `asKey` (then as a property name); its end in
 * readEnd. The envelope readers' way in (envelope-decode.ts).
 */
export function readAt(
  bytes: Uint8Array,
  at: number,
  end: number,
  level: number,
  tagHooks: TagHooks,
  asKey = false,
): unknown {
  const savedSrc = src;
  const savedLimit = limit;
  const savedPosition = position;
  const savedDepth = depth;
  const savedHooks = hooks;
  const savedView = view;
  src = bytes;
  limit = end;
  position = at;
  depth = level;
  hooks = tagHooks;
  view = undefined;
  try {
    let value: unknown;
    if (asKey) {
      const key = readKey();
      value = typeof key === 'string' ? key : propertyName(key);
    } else value = read();
    readEnd = position;
    return value;
  } finally {
    src = savedSrc;
    limit = savedLimit;
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
  const savedLimit = limit;
  const savedPosition = position;
  const savedDepth = depth;
  const savedHooks = hooks;
  const savedView = view;
  src = bytes;
  limit = bytes.length;
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
    limit = savedLimit;
    position = savedPosition;
    depth = savedDepth;
    hooks = savedHooks;
    view = savedView;
  }
}
