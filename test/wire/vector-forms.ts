// The two language-neutral forms of a golden vector (docs/vectors/README.md): CBOR diagnostic
// notation (RFC 8949 §8, with encoding indicators) read from the bytes themselves, and the
// "typed JSON" form of a decoded value, which JSON can hold and any language can compare.

import { ByReference, type ReferenceContext, RefKind } from '../../src/wire/codec.ts';

/** What a decoded reference (tag 21109) becomes in a vector: its content, as sent. */
export class RefMark {
  constructor(readonly content: unknown[]) {}
}

/** Exports ByReference values whose `value` is a RefMark under the ids the mark names. */
export const vectorReferences: ReferenceContext = {
  exportReference(_kind, value) {
    return (value as RefMark).content;
  },
  importReference(kind, id, extra) {
    return new RefMark(extra === undefined ? [kind, id] : [kind, id, extra]);
  },
};

/** A reference as a vector case writes it: `[kind, id]` or `[kind, id, methods]`. */
export function reference(kind: RefKind, id: number, methods?: string[]): ByReference {
  return new ByReference(kind, new RefMark(methods ? [kind, id, methods] : [kind, id]));
}
export { RefKind };

type Typed = null | boolean | number | string | Typed[] | { [key: string]: Typed };

const TYPED_ARRAYS = [
  Uint8Array,
  Uint8ClampedArray,
  Uint16Array,
  Uint32Array,
  BigUint64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  BigInt64Array,
  Float32Array,
  Float64Array,
] as const;

const hex = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('hex');

/** A decoded value as typed JSON: special values are one-key objects whose key starts with `$`. */
export function toTyped(value: unknown): Typed {
  if (value === undefined) return { $undefined: true };
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return { $number: '-0' };
    return Number.isFinite(value) ? value : { $number: String(value) };
  }
  if (typeof value === 'bigint') return { $bigint: value.toString() };
  if (value instanceof RefMark) return { $ref: value.content.map(toTyped) };
  if (value instanceof Date) return { $date: value.toISOString() };
  if (Buffer.isBuffer(value)) return { $bytes: value.toString('hex') };
  for (const Type of TYPED_ARRAYS) {
    if (value instanceof Type && value.constructor === Type) return { [`$${Type.name}`]: hex(value) };
  }
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [toTyped(k), toTyped(v)]) };
  if (value instanceof Set) return { $set: [...value].map(toTyped) };
  if (value instanceof Error) {
    const fields: Record<string, Typed> = { name: value.name, message: value.message };
    const { code, cause, stack } = value as Error & { code?: unknown };
    if (code !== undefined) fields.code = toTyped(code);
    // A decoder makes "<name>: <message>" of a missing stack (PROTOCOL.md 3.3): the same as none.
    if (typeof stack === 'string' && stack !== `${value.name}: ${value.message}`) fields.stack = stack;
    if (cause !== undefined) fields.cause = toTyped(cause);
    return { $error: fields };
  }
  if (Array.isArray(value)) return value.map(toTyped);
  if (typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      const tagged = value as { tag?: unknown; value?: unknown };
      if (typeof tagged.tag === 'number' && 'value' in tagged) return { $tag: [tagged.tag, toTyped(tagged.value)] };
      throw new Error(`no typed form for ${prototype?.constructor?.name}`);
    }
    const out: Record<string, Typed> = {};
    let special = false;
    for (const [key, item] of Object.entries(value)) {
      if (key.startsWith('$')) special = true;
      out[key] = toTyped(item);
    }
    return special ? { $object: out } : out;
  }
  throw new Error(`no typed form for ${typeof value}`);
}

function bytesOf(text: string): Buffer {
  return Buffer.from(text, 'hex');
}

/** The value a typed form stands for, as JS code would hand it to the encoder. */
export function fromTyped(typed: Typed): unknown {
  if (typed === null || typeof typed !== 'object') return typed;
  if (Array.isArray(typed)) return typed.map(fromTyped);
  const keys = Object.keys(typed);
  const only = keys.length === 1 ? (keys[0] as string) : '';
  if (!only.startsWith('$')) return Object.fromEntries(keys.map((key) => [key, fromTyped(typed[key] as Typed)]));
  const body = typed[only] as Typed;
  switch (only) {
    case '$undefined':
      return undefined;
    case '$number':
      return Number(body);
    case '$bigint':
      return BigInt(body as string);
    case '$date':
      return new Date(body as string);
    case '$bytes':
      return bytesOf(body as string);
    case '$map':
      return new Map((body as Typed[][]).map(([k, v]) => [fromTyped(k as Typed), fromTyped(v as Typed)]));
    case '$set':
      return new Set((body as Typed[]).map(fromTyped));
    case '$object':
      return fromTyped(body);
    case '$ref': {
      const [kind, id, methods] = body as [number, number, string[] | undefined];
      return reference(kind as RefKind, id, methods);
    }
    case '$error': {
      const fields = body as Record<string, Typed>;
      const error = new Error(
        fields.message as string,
        fields.cause === undefined ? undefined : { cause: fromTyped(fields.cause) },
      );
      Object.defineProperty(error, 'name', { value: fields.name, writable: true, configurable: true });
      if (fields.code !== undefined) (error as Error & { code?: unknown }).code = fromTyped(fields.code);
      if (fields.stack === undefined) Reflect.deleteProperty(error, 'stack');
      else error.stack = fields.stack as string;
      return error;
    }
  }
  const Type = TYPED_ARRAYS.find((T) => `$${T.name}` === only);
  if (!Type) throw new Error(`unknown typed form ${only}`);
  const bytes = bytesOf(body as string);
  const copy = new ArrayBuffer(bytes.length);
  new Uint8Array(copy).set(bytes);
  return new Type(copy);
}

// --- Diagnostic notation, from the bytes ---

/** RFC 8949 §8.1 encoding indicators: _0 … _3 for an argument of 1, 2, 4 or 8 bytes. */
const INDICATOR = ['_0', '_1', '_2', '_3'];

function floatText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
  if (Object.is(value, -0)) return '-0.0';
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** The diagnostic notation of one CBOR item; throws on trailing bytes or a truncated item. */
export function diagnostic(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new Error('truncated CBOR');
  };
  const item = (): string => {
    need(1);
    const head = bytes[at++] as number;
    const major = head >> 5;
    const info = head & 0x1f;
    if (major === 7) {
      if (info < 20 || info === 24) throw new Error(`simple value ${info} is not used by runtable`);
      if (info <= 23) return ['false', 'true', 'null', 'undefined'][info - 20] as string;
      const size = { 25: 2, 26: 4, 27: 8 }[info];
      if (!size) throw new Error(`unexpected special ${info}`);
      need(size);
      const value = size === 2 ? half(view.getUint16(at)) : size === 4 ? view.getFloat32(at) : view.getFloat64(at);
      at += size;
      // The preferred (shortest exact) float width needs no indicator.
      const preferred = preferredFloatSize(value);
      return `${floatText(value)}${size === preferred ? '' : INDICATOR[Math.log2(size)]}`;
    }
    if (info === 31) throw new Error('indefinite lengths are not used by runtable');
    let argument: bigint;
    let indicator = '';
    if (info < 24) argument = BigInt(info);
    else {
      const size = { 24: 1, 25: 2, 26: 4, 27: 8 }[info];
      if (!size) throw new Error(`reserved additional information ${info}`);
      need(size);
      argument =
        size === 8
          ? view.getBigUint64(at)
          : BigInt(size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at) : view.getUint32(at));
      at += size;
      const shortest =
        argument < 24n ? 0 : argument < 0x100n ? 1 : argument < 0x10000n ? 2 : argument < 0x100000000n ? 4 : 8;
      if (shortest !== size) indicator = INDICATOR[Math.log2(size)] as string;
    }
    const count = Number(argument);
    switch (major) {
      case 0:
        return `${argument}${indicator}`;
      case 1:
        return `${-1n - argument}${indicator}`;
      case 2:
        need(count);
        at += count;
        return `h'${Buffer.from(bytes.subarray(at - count, at)).toString('hex')}'`;
      case 3: {
        need(count);
        at += count;
        return JSON.stringify(Buffer.from(bytes.subarray(at - count, at)).toString('utf8'));
      }
      case 4: {
        const items: string[] = [];
        for (let i = 0; i < count; i++) items.push(item());
        return `[${indicator ? `${indicator} ` : ''}${items.join(', ')}]`;
      }
      case 5: {
        const pairs: string[] = [];
        for (let i = 0; i < count; i++) pairs.push(`${item()}: ${item()}`);
        return `{${indicator ? `${indicator} ` : ''}${pairs.join(', ')}}`;
      }
      default:
        return `${argument}${indicator}(${item()})`;
    }
  };
  const text = item();
  if (at !== bytes.length) throw new Error(`${bytes.length - at} bytes after the item`);
  return text;
}

function half(bits: number): number {
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  const sign = bits & 0x8000 ? -1 : 1;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function preferredFloatSize(value: number): number {
  if (Number.isNaN(value) || !Number.isFinite(value)) return 2;
  if (Math.fround(value) !== value) return 8;
  // Exactly representable in half precision?
  const buffer = new DataView(new ArrayBuffer(4));
  buffer.setFloat32(0, value);
  const bits = buffer.getUint32(0);
  const exponent = ((bits >> 23) & 0xff) - 127;
  const mantissa = bits & 0x7fffff;
  if (value === 0) return 2;
  if (exponent >= -14 && exponent <= 15 && (mantissa & 0x1fff) === 0) return 2;
  if (exponent < -14 && exponent >= -24) {
    const shift = -14 - exponent + 13;
    if ((mantissa & ((1 << shift) - 1)) === 0) return 2;
  }
  return 4;
}
