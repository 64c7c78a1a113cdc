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

// useRecords: false keeps plain CBOR maps for objects (no cbor-x record extension), so any CBOR
// decoder reads our frames; Maps then travel under tag 259 and come back as Maps.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

export function encode(value: unknown): Uint8Array {
  return cbor.encode(value);
}

/** Decoded binary values are views into `bytes`: the caller must not reuse that buffer. */
export function decode(bytes: Uint8Array): unknown {
  return cbor.decode(bytes);
}
