// Turns messages into bytes and back: CBOR (RFC 8949), encoded by runtable's own encoder
// (cbor-encode.ts, which leaves Tags, Maps, Sets, Dates, bigints and typed arrays to cbor-x) and
// decoded by its own decoder (cbor-decode.ts), so Map, Set, BigInt, Date and typed arrays survive
// the trip in a form that independent CBOR decoders read. The shape checks live in validate.ts.

import { decodeCbor, type TagHooks } from './cbor-decode.js';
import { encodeCallEnvelope, encodeCbor, encodeReplyEnvelope } from './cbor-encode.js';
import type { Encoded } from './encoded.js';
import { type Call, type Invoke, Kind, type Unnumbered } from './protocol.js';
import { ByReference, ERROR_TAG, type ErrorFields, prepareValue, REFERENCE_TAG, RefKind } from './values.js';

export type { TagHooks };
export { ByReference, ERROR_TAG, REFERENCE_TAG, RefKind };

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

/** What a connection that can pass references gives the codec (see calls/session.ts). */
export interface ReferenceContext {
  /** Registers `value` for the peer to call; returns [kind, id] or [kind, id, methods]. */
  exportReference(kind: RefKind, value: object): unknown[];
  /** The local stand-in for a reference the peer sent. */
  importReference(kind: number, id: number, extra: unknown): unknown;
}

// cbor-encode.ts writes the bytes cbor-x would (plain CBOR maps, Maps under tag 259). No cbor-x
// extension is registered: those are process-wide. Errors and references reach the encoder as
// cbor-x Tags (values.ts), and come back through cbor-decode.ts's own tag hooks, so importing
// runtable changes nothing for other cbor-x users.

const PLAIN_HOOKS: TagHooks = { error: reviveError };

const CHECK_ONLY = { exportReference: () => [] };

/** Throws the BAD_ARGUMENT that encoding `value` under `key` would, without encoding or exporting anything. */
export function checkValue(value: unknown, key: string): void {
  prepareValue({ [key]: value }, CHECK_ONLY);
}

/**
 * Encodes; functions and ByReference values are exported through `references`. The bytes are a
 * view into a block shared with other messages: keep them, never write to them.
 */
export function encode(value: unknown, references?: ReferenceContext): Uint8Array {
  return encodeCbor(prepareValue(value, references));
}

export type { Encoded };

/**
 * encode() of a Call or Invoke `message` numbered `id` (added last, as connection.ts numbers
 * requests), written as encode() would write it; undefined if the message has fields other than
 * its kind's, which encode() must then write. With `frame`, a number: the message was written as
 * a frame, its length in front, and lies at framedAt() (cbor-encode.ts), unless it came in parts.
 */
export function encodeCall(
  message: Unnumbered<Call | Invoke>,
  id: number,
  references?: ReferenceContext,
): Encoded | undefined;
export function encodeCall(
  message: Unnumbered<Call | Invoke>,
  id: number,
  references: ReferenceContext | undefined,
  frame: boolean,
): Encoded | number | undefined;
export function encodeCall(
  message: Unnumbered<Call | Invoke>,
  id: number,
  references?: ReferenceContext,
  frame = false,
): Encoded | number | undefined {
  const stack = message.stack;
  let fields = 0;
  for (const _ in message) fields++;
  if (fields !== (stack === undefined ? 4 : 5) || (stack !== undefined && stack !== true)) return undefined;
  const call = message.kind === Kind.Call;
  const targetId = call ? message.target : message.ref;
  if (typeof targetId !== 'number' || typeof message.method !== 'string') return undefined;
  const args = prepareValue(message.args, references, 'args');
  return encodeCallEnvelope(
    message.kind,
    call ? 'target' : 'ref',
    targetId,
    message.method,
    args,
    stack === true,
    id,
    frame,
  );
}

/**
 * encodeCall() of the Call `{ kind, target, method, args, stack: true (if `stack`) }`, given by
 * its fields: no message object is made; undefined where encodeCall would be.
 */
export function encodeCallOf(
  target: number,
  method: string,
  args: unknown[],
  stack: boolean,
  id: number,
  references: ReferenceContext | undefined,
  frame: boolean,
): Encoded | number | undefined {
  if (typeof target !== 'number' || typeof method !== 'string') return undefined;
  const prepared = prepareValue(args, references, 'args');
  return encodeCallEnvelope(Kind.Call, 'target', target, method, prepared, stack, id, frame);
}

/** encode() of the Reply `{ kind, id, value }`; `frame` as for encodeCall. */
export function encodeReply(id: number, value: unknown, references?: ReferenceContext): Encoded;
export function encodeReply(
  id: number,
  value: unknown,
  references: ReferenceContext | undefined,
  frame: boolean,
  kind?: typeof Kind.Reply | typeof Kind.ListPart,
): Encoded | number;
export function encodeReply(
  id: number,
  value: unknown,
  references?: ReferenceContext,
  frame = false,
  // A ListPart is shaped as a Reply, so that its rows leave the block as a Reply's do.
  kind: typeof Kind.Reply | typeof Kind.ListPart = Kind.Reply,
): Encoded | number {
  return encodeReplyEnvelope(kind, id, prepareValue(value, references, 'value'), frame);
}

/** What the decoder calls for runtable's tags: made once per connection, not per message. */
export function decodeHooks(references?: ReferenceContext): TagHooks {
  if (!references) return PLAIN_HOOKS;
  return {
    error: reviveError,
    reference(value: unknown) {
      if (!Array.isArray(value) || typeof value[0] !== 'number' || typeof value[1] !== 'number') {
        throw new Error('malformed reference');
      }
      return references.importReference(value[0], value[1], value[2]);
    },
  };
}

/** Decoded binary values are views into `bytes`: the caller must not reuse that buffer. */
export function decode(bytes: Uint8Array, references?: ReferenceContext): unknown {
  return decodeCbor(bytes, decodeHooks(references));
}

/** decode() with hooks made by decodeHooks(). */
export function decodeWith(bytes: Uint8Array, hooks: TagHooks): unknown {
  return decodeCbor(bytes, hooks);
}
