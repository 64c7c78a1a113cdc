// runtable's own CBOR decoder, for the profile of docs/PROTOCOL.md section 3. It is private to
// runtable: cbor-x's decoder keeps its tag handlers process-wide, and runtable must change nothing
// for other cbor-x users in the process. It never trusts a length: every size is checked against
// the bytes left before anything is allocated, and it interprets no tag outside the profile.

import { Tag } from 'cbor-x';

/** Containers nested deeper than this make a message undecodable (the encoder refuses them too). */
export const MAX_DECODE_DEPTH = 2048;

/** What the decoder asks of its caller for runtable's own tags (21108, 21109). */
export interface TagHooks {
  error(fields: unknown): unknown;
  /** Absent where references cannot travel (a broker connection): tag 21109 is then refused. */
  reference?(value: unknown): unknown;
}

export const ERROR_TAG_NUMBER = 21108;
export const REFERENCE_TAG_NUMBER = 21109;

const BREAK = Symbol('break');
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

function fail(message: string): never {
  throw new Error(message);
}

class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly buffer: Buffer;
  readonly hooks: TagHooks;
  position = 0;
  depth = 0;

  constructor(bytes: Uint8Array, hooks: TagHooks) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.hooks = hooks;
  }

  /** The argument of an item head: a number, or a BigInt for an 8-byte one that needs it. */
  argument(info: number): number {
    if (info < 24) return info;
    const at = this.position;
    switch (info) {
      case 24:
        this.need(1);
        this.position = at + 1;
        return this.bytes[at] as number;
      case 25:
        this.need(2);
        this.position = at + 2;
        return this.view.getUint16(at);
      case 26:
        this.need(4);
        this.position = at + 4;
        return this.view.getUint32(at);
      case 27: {
        this.need(8);
        this.position = at + 8;
        const high = this.view.getUint32(at);
        // Lengths this large never fit the bytes left; the caller's check refuses them.
        return high * 0x1_0000_0000 + this.view.getUint32(at + 4);
      }
      default:
        return fail(`invalid CBOR additional information ${info}`);
    }
  }

  need(count: number): void {
    if (this.position + count > this.bytes.length) fail('unexpected end of CBOR data');
  }

  read(): unknown {
    if (this.position >= this.bytes.length) fail('unexpected end of CBOR data');
    const head = this.bytes[this.position++] as number;
    const major = head >> 5;
    const info = head & 0x1f;
    switch (major) {
      case 0:
        if (info === 27) return this.bigArgument();
        return this.argument(info);
      case 1:
        if (info === 27) return -1n - this.bigArgument();
        return -1 - this.argument(info);
      case 2: {
        const length = this.length(info, 'byte string');
        const start = this.position;
        this.position += length;
        return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, length);
      }
      case 3:
        return this.text(this.length(info, 'text string'));
      case 4:
        return this.array(info);
      case 5:
        return this.map(info);
      case 6:
        return this.tag(this.argument(info));
      default:
        return this.simple(info);
    }
  }

  bigArgument(): bigint {
    this.need(8);
    const value = this.view.getBigUint64(this.position);
    this.position += 8;
    return value;
  }

  /** A definite length that the bytes left can hold. */
  length(info: number, what: string): number {
    if (info === 31) fail(`indefinite-length ${what}s are not accepted`);
    const length = this.argument(info);
    if (length > this.bytes.length - this.position) fail(`a ${what} of ${length} bytes runs past the end of the data`);
    return length;
  }

  text(length: number): string {
    const start = this.position;
    const end = start + length;
    this.position = end;
    if (length < 24) {
      // Keys and short names are ASCII nearly always; building them here beats a native call.
      const bytes = this.bytes;
      let ascii = true;
      for (let i = start; i < end; i++) {
        if ((bytes[i] as number) >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        if (length === 0) return '';
        let text = '';
        for (let i = start; i < end; i++) text += String.fromCharCode(bytes[i] as number);
        return text;
      }
    }
    return this.buffer.toString('utf8', start, end);
  }

  enter(): void {
    if (++this.depth > MAX_DECODE_DEPTH) fail(`values nest deeper than ${MAX_DECODE_DEPTH} levels`);
  }

  array(info: number): unknown[] {
    this.enter();
    let items: unknown[];
    if (info === 31) {
      items = [];
      for (;;) {
        const item = this.readOrBreak();
        if (item === BREAK) break;
        items.push(item);
      }
    } else {
      // Each item takes at least one byte: a count beyond the bytes left is a lie.
      const count = this.length(info, 'array');
      items = new Array(count);
      for (let i = 0; i < count; i++) items[i] = this.read();
    }
    this.depth--;
    return items;
  }

  readOrBreak(): unknown {
    if (this.position < this.bytes.length && this.bytes[this.position] === 0xff) {
      this.position++;
      return BREAK;
    }
    return this.read();
  }

  map(info: number): Record<string, unknown> {
    this.enter();
    const object: Record<string, unknown> = {};
    const count = info === 31 ? Number.POSITIVE_INFINITY : this.length(info, 'map');
    for (let i = 0; i < count; i++) {
      const key = info === 31 ? this.readOrBreak() : this.read();
      if (key === BREAK) break;
      const value = this.read();
      const name = propertyName(key);
      // An own key, as JSON.parse makes it: assigning would set the object's prototype instead.
      if (name === '__proto__') {
        Object.defineProperty(object, name, { value, enumerable: true, writable: true, configurable: true });
      } else object[name] = value;
    }
    this.depth--;
    return object;
  }

  /** Tag 259: a map whose keys keep their types. */
  explicitMap(): Map<unknown, unknown> {
    if (this.position >= this.bytes.length) fail('unexpected end of CBOR data');
    const head = this.bytes[this.position++] as number;
    if (head >> 5 !== 5) fail('tag 259 must hold a map');
    const info = head & 0x1f;
    this.enter();
    const map = new Map<unknown, unknown>();
    const count = info === 31 ? Number.POSITIVE_INFINITY : this.length(info, 'map');
    for (let i = 0; i < count; i++) {
      const key = info === 31 ? this.readOrBreak() : this.read();
      if (key === BREAK) break;
      map.set(key, this.read());
    }
    this.depth--;
    return map;
  }

  tag(tag: number): unknown {
    if (tag === 259) return this.explicitMap();
    if (REFUSED_TAGS.has(tag)) {
      fail(`CBOR tag ${tag} is not accepted by runtable (cbor-x's packed tables and shared values are not part of its wire)`);
    }
    const layout = TYPED_ARRAYS.get(tag);
    if (layout) return this.typedArray(layout);
    this.enter();
    const content = this.read();
    this.depth--;
    switch (tag) {
      case 0:
        if (typeof content !== 'string') fail('tag 0 must hold a text string');
        return new Date(content);
      case 1:
        if (typeof content === 'number') return new Date(Math.round(content * 1000));
        if (typeof content === 'bigint') return new Date(Number(content) * 1000);
        return fail('tag 1 must hold a number');
      case 2:
      case 3: {
        if (!(content instanceof Uint8Array)) fail(`tag ${tag} must hold a byte string`);
        let value = 0n;
        for (const byte of content) value = (value << 8n) | BigInt(byte);
        return tag === 2 ? value : -1n - value;
      }
      case 258:
        if (!Array.isArray(content)) fail('tag 258 must hold an array');
        return new Set(content);
      case ERROR_TAG_NUMBER:
        return this.hooks.error(content);
      case REFERENCE_TAG_NUMBER:
        if (!this.hooks.reference) fail('functions and references can only travel in calls, their results and events');
        return this.hooks.reference(content);
      default:
        // Not in the profile (cbor-x's packed tables and shared values among them): opaque.
        return new Tag(content, tag);
    }
  }

  typedArray(layout: Layout): ArrayBufferView {
    if (this.position >= this.bytes.length) fail('unexpected end of CBOR data');
    const head = this.bytes[this.position++] as number;
    if (head >> 5 !== 2) fail('a typed array tag must hold a byte string');
    const length = this.length(head & 0x1f, 'byte string');
    const offset = this.position;
    this.position += length;
    const { type, little } = layout;
    const size = type.BYTES_PER_ELEMENT;
    if (length % size !== 0) fail(`a typed array of ${size}-byte elements cannot hold ${length} bytes`);
    const start = this.bytes.byteOffset + offset;
    if (size === 1 || (little === LITTLE_ENDIAN_HOST && start % size === 0)) {
      return new type(this.bytes.buffer, start, length / size);
    }
    if (little === LITTLE_ENDIAN_HOST) {
      // Unaligned: copied (Buffer's own slice would be a view of the whole pool).
      return new type(Uint8Array.prototype.slice.call(this.bytes, offset, offset + length).buffer);
    }
    // Elements of the other byte order: read one by one.
    const view = new DataView(this.bytes.buffer, start, length);
    const array = new type(new ArrayBuffer(length)) as unknown as (number | bigint)[];
    for (let i = 0; i < length / size; i++) array[i] = layout.get(view, i * size, little);
    return array as unknown as ArrayBufferView;
  }

  simple(info: number): unknown {
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
        this.need(2);
        const half = this.view.getUint16(this.position);
        this.position += 2;
        return float16(half);
      }
      case 26: {
        this.need(4);
        const value = this.view.getFloat32(this.position);
        this.position += 4;
        return value;
      }
      case 27: {
        this.need(8);
        const value = this.view.getFloat64(this.position);
        this.position += 8;
        return value;
      }
      case 31:
        return fail('unexpected CBOR break');
      default:
        return fail(`CBOR simple value ${info} is not accepted`);
    }
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
  if (typeof key === 'string') return key;
  if (typeof key === 'number' || typeof key === 'boolean' || typeof key === 'bigint') return String(key);
  if (key === null || key === undefined) return String(key);
  return fail(`a map key of type ${typeof key} cannot name a property (send a Map)`);
}

/** Decodes one CBOR item that fills `bytes` exactly. Binary values are views into `bytes`. */
export function decodeCbor(bytes: Uint8Array, hooks: TagHooks): unknown {
  const reader = new Reader(bytes, hooks);
  const value = reader.read();
  if (reader.position !== bytes.length) fail(`${bytes.length - reader.position} bytes follow the CBOR value`);
  return value;
}
