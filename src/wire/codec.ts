// Turns messages into bytes and back: CBOR (RFC 8949) through cbor-x, so Map, Set, BigInt, Date
// and typed arrays survive the trip in a form that independent CBOR decoders read. It never
// trusts what it decodes: the shape checks live in validate.ts.

import { addExtension, Encoder } from 'cbor-x';

/**
 * CBOR tag for an Error value: a map {name, message, code?, stack?, cause?}. From the
 * first-come-first-served range; documented in docs/PROTOCOL.md.
 */
export const ERROR_TAG = 21108;

interface ErrorFields {
  name: string;
  message: string;
  code?: unknown;
  stack?: string;
  cause?: unknown;
}

// cbor-x's typings want encode() to return bytes; an extension that calls `encode` returns nothing.
addExtension({
  Class: Error,
  tag: ERROR_TAG,
  encode(error: Error & { code?: unknown }, encode: (value: unknown) => void) {
    const fields: ErrorFields = { name: error.name, message: error.message };
    if (error.code !== undefined) fields.code = error.code;
    if (typeof error.stack === 'string') fields.stack = error.stack;
    if (error.cause !== undefined) fields.cause = error.cause;
    encode(fields);
  },
  decode(fields: unknown): Error {
    return reviveError(fields);
  },
} as unknown as Parameters<typeof addExtension>[0]);

/**
 * cbor-x also decodes its own extensions for shared values (tags 28 and 29) and packed tables
 * (51, 6). A peer could use them to make a few bytes expand into gigabytes, and we never send
 * them: refuse them outright.
 */
for (const tag of [6, 28, 29, 51]) {
  addExtension({
    tag,
    decode() {
      throw new Error(`CBOR tag ${tag} is not accepted by runtable`);
    },
  } as unknown as Parameters<typeof addExtension>[0]);
}

/** Builds a plain Error from a decoded record, whatever junk the record holds. */
export function reviveError(fields: unknown): Error {
  const record = (typeof fields === 'object' && fields !== null ? fields : {}) as Partial<ErrorFields>;
  const error = new Error(
    typeof record.message === 'string' ? record.message : '',
    record.cause === undefined ? undefined : { cause: record.cause },
  );
  if (typeof record.name === 'string') {
    Object.defineProperty(error, 'name', { value: record.name, writable: true, configurable: true });
  }
  if (record.code !== undefined) (error as Error & { code?: unknown }).code = record.code;
  error.stack = typeof record.stack === 'string' ? record.stack : `${error.name}: ${error.message}`;
  return error;
}

/**
 * CBOR tag for a value that travels by reference: [kind, id] or, for objects, [kind, id, methods].
 * The id is the sender's; the receiver calls back through the same connection.
 */
export const REFERENCE_TAG = 21109;

export const RefKind = { Function: 0, Object: 1, Stream: 2 } as const;
export type RefKind = (typeof RefKind)[keyof typeof RefKind];

/** Wraps what travels by reference: a function, a ref() object or a stream. */
export class ByReference {
  constructor(
    readonly kind: RefKind,
    readonly value: object,
  ) {}
}

/** Deeper than this, values are left to the encoder as they are (which refuses functions). */
const MAX_WALK_DEPTH = 256;

/**
 * cbor-x offers extensions for objects only, so functions are found here first and wrapped.
 * Containers are copied only on the path to a function; the caller's values are never changed.
 */
export function wrapFunctions(value: unknown, depth = 0): unknown {
  if (typeof value === 'function') return new ByReference(RefKind.Function, value);
  if (typeof value !== 'object' || value === null || depth > MAX_WALK_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const wrapped = typeof item === 'object' || typeof item === 'function' ? wrapFunctions(item, depth + 1) : item;
      if (wrapped !== item) {
        copy ??= value.slice();
        copy[i] = wrapped;
      }
    }
    return copy ?? value;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype === Object.prototype || prototype === null) {
    let copy: Record<string, unknown> | undefined;
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      const wrapped = typeof item === 'object' || typeof item === 'function' ? wrapFunctions(item, depth + 1) : item;
      if (wrapped !== item) {
        copy ??= { ...(value as Record<string, unknown>) };
        copy[key] = wrapped;
      }
    }
    return copy ?? value;
  }
  if (value instanceof Map) {
    let changed = false;
    const entries = [...value].map(([k, v]) => {
      const wrapped = wrapFunctions(v, depth + 1);
      if (wrapped !== v) changed = true;
      return [k, wrapped] as const;
    });
    return changed ? new Map(entries) : value;
  }
  if (value instanceof Set) {
    let changed = false;
    const items = [...value].map((v) => {
      const wrapped = wrapFunctions(v, depth + 1);
      if (wrapped !== v) changed = true;
      return wrapped;
    });
    return changed ? new Set(items) : value;
  }
  return value;
}

/** What a connection that can pass references gives the codec (see calls/session.ts). */
export interface ReferenceContext {
  /** Registers `value` for the peer to call; returns [kind, id] or [kind, id, methods]. */
  exportReference(kind: RefKind, value: object): unknown[];
  /** The local stand-in for a reference the peer sent. */
  importReference(kind: number, id: number, extra: unknown): unknown;
}

let context: ReferenceContext | undefined;

function noContext(): never {
  throw new Error('functions and references can only travel in calls, their results and events');
}

addExtension({
  Class: ByReference,
  tag: REFERENCE_TAG,
  encode(wrapped: ByReference, encodeValue: (value: unknown) => void) {
    encodeValue((context ?? noContext()).exportReference(wrapped.kind, wrapped.value));
  },
  decode(value: unknown) {
    if (!Array.isArray(value) || typeof value[0] !== 'number' || typeof value[1] !== 'number') {
      throw new Error('malformed reference');
    }
    return (context ?? noContext()).importReference(value[0], value[1], value[2]);
  },
} as unknown as Parameters<typeof addExtension>[0]);

// useRecords: false keeps plain CBOR maps for objects (no cbor-x record extension), so any CBOR
// decoder reads our frames; Maps then travel under tag 259 and come back as Maps.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

/** Encodes; functions and ByReference values are exported through `references`. */
export function encode(value: unknown, references?: ReferenceContext): Uint8Array {
  if (!references) return cbor.encode(value);
  context = references;
  try {
    return cbor.encode(wrapFunctions(value));
  } finally {
    context = undefined;
  }
}

/** Decoded binary values are views into `bytes`: the caller must not reuse that buffer. */
export function decode(bytes: Uint8Array, references?: ReferenceContext): unknown {
  if (!references) return cbor.decode(bytes);
  context = references;
  try {
    return cbor.decode(bytes);
  } finally {
    context = undefined;
  }
}
