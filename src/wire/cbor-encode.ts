// runtable's CBOR encoder for what messages are made of: maps, arrays, text, integers, floats,
// byte strings. It writes exactly the bytes cbor-x writes with runtable's options (a map always
// with a 16-bit count, so docs/vectors stay valid) and hands anything else (Tags, Maps, Sets,
// Dates, bigints, typed arrays) to cbor-x, whose encoding of a part is the same alone as inside.

// Node's Buffer is a getter on globalThis: imported, a hot site reads no getter.
import { Buffer } from 'node:buffer';
import { Encoder } from 'cbor-x';
import { type Encoded, EncodedParts } from './encoded.js';
import { copyBuffer, isUncopied } from './large-bytes.js';
import { Kind } from './protocol.js';

/** A fresh output buffer is at least this large; messages are cut from it one after another. */
export const ENCODE_BLOCK_BYTES = 64 * 1024;
/**
 * In a Call, Invoke or Reply, a byte string (a Buffer) of at least this many bytes is not copied
 * into the block: the message is handed out as parts (EncodedParts), a copy of the caller's bytes
 * one of them, and written without joining (see docs/ARCHITECTURE.md, "Large binary").
 */
export const SPLIT_BYTES = 16 * 1024;
// useRecords: false keeps plain CBOR maps for objects (no cbor-x record extension), so any CBOR
// decoder reads our frames; Maps then travel under tag 259.
const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

export { type Encoded, EncodedParts, joined } from './encoded.js';

/** Node's UTF-8 writer, as cbor-x uses it for strings of 64 characters or more. */
const utf8Write = (
  Buffer.prototype as unknown as { utf8Write(this: Buffer, text: string, offset: number, length: number): number }
).utf8Write;

// The block being written: each message is the range [start, position), handed out as a view and
// never written again (as cbor-x does), so no message is copied out of the block.
let target: Buffer = Buffer.allocUnsafeSlow(ENCODE_BLOCK_BYTES);
/** The block's memory (allocUnsafeSlow: its own, from offset 0), read once per block. */
let memory: ArrayBufferLike = target.buffer;
/** The block as a DataView, for the envelopes' constant words: V8 inlines these stores. */
let words = new DataView(memory);
/** Where the part being written began in `target` (the message's start, when it is not split). */
let start = 0;
let position = 0;
/** Whether large byte strings may leave the block (the envelopes: only their callers take parts). */
let splitting = false;
/** The message's parts before the one being written, once a byte string left the block. */
let parts: Uint8Array[] | undefined;
/** Bytes of the message in `parts`: the offset, in the message, of `start`. */
let flushed = 0;
/** The buffers of the copies among `parts` (each as long as its copy, or longer: copyBuffer()). */
let copies: Buffer[] | undefined;
/** Whether the envelope being written is a frame: its 4-byte length in front (see encodeCallEnvelope). */
let framing = false;
/** Where the last frame written whole in the block lies: `framedMemory` from `framedOffset`. */
let framedMemory: ArrayBufferLike = memory;
let framedOffset = 0;

/** A frame's length head, as transport/framing.ts reads it. */
const FRAME_HEAD_BYTES = 4;

// Called through the prototype's own functions: on a Buffer, `value.byteLength` and `target.set`
// are generic loads in optimized code (see object()); these calls are not.
const byteLengthOf = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), 'byteLength')
  ?.get as (this: ArrayBufferView) => number;
const setBytes = Uint8Array.prototype.set;
const BUFFER_PROTOTYPE: object = Buffer.prototype;
const UINT8ARRAY_PROTOTYPE: object = Uint8Array.prototype;

/** Makes room for `bytes` more; small enough for V8 to inline at every site, the rare move apart. */
function room(bytes: number): void {
  if (position + bytes > target.length) move(bytes);
}

/** Moves the part begun so far to a fresh block with room for `bytes` more. */
function move(bytes: number): void {
  const written = position - start;
  const next = Buffer.allocUnsafeSlow(Math.max(ENCODE_BLOCK_BYTES, 2 * (written + bytes)));
  target.copy(next, 0, start, position);
  target = next;
  memory = next.buffer;
  words = new DataView(memory);
  start = 0;
  position = written;
}

function head(major: number, value: number): void {
  room(9);
  writeHead(major, value);
}

/** An item's head, where room was made already. */
function writeHead(major: number, value: number): void {
  if (value < 0x18) target[position++] = major | value;
  else if (value < 0x100) {
    target[position++] = major | 0x18;
    target[position++] = value;
  } else if (value < 0x10000) {
    target[position++] = major | 0x19;
    target[position++] = value >> 8;
    target[position++] = value & 0xff;
  } else {
    // Byte by byte: Buffer#writeUInt32BE checks its arguments, and request ids pass 65,535 soon.
    target[position++] = major | 0x1a;
    target[position++] = value >>> 24;
    target[position++] = (value >>> 16) & 0xff;
    target[position++] = (value >>> 8) & 0xff;
    target[position++] = value & 0xff;
  }
}

function number(value: number): void {
  room(9);
  if (value >>> 0 === value) writeHead(0x00, value);
  else if (value >> 0 === value) writeHead(0x20, ~value);
  else if (value < 0 && value >= -0x1_0000_0000 && Math.floor(value) === value) {
    target[position++] = 0x3a;
    target.writeUInt32BE(-1 - value, position);
    position += 4;
  } else {
    target[position++] = 0xfb;
    target.writeDoubleBE(value, position);
    position += 8;
  }
}

function text(value: string): void {
  const chars = value.length;
  room(5 + chars * 3);
  let length: number;
  if (chars < 0x40) {
    // cbor-x's own loop for short strings (a lone surrogate goes as its three bytes, as there).
    const at = position + (chars < 0x18 ? 1 : 2);
    let out = at;
    for (let i = 0; i < chars; i++) {
      let c = value.charCodeAt(i);
      if (c < 0x80) target[out++] = c;
      else if (c < 0x800) {
        target[out++] = (c >> 6) | 0xc0;
        target[out++] = (c & 0x3f) | 0x80;
      } else if ((c & 0xfc00) === 0xd800 && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
        c = 0x10000 + ((c & 0x03ff) << 10) + (value.charCodeAt(++i) & 0x03ff);
        target[out++] = (c >> 18) | 0xf0;
        target[out++] = ((c >> 12) & 0x3f) | 0x80;
        target[out++] = ((c >> 6) & 0x3f) | 0x80;
        target[out++] = (c & 0x3f) | 0x80;
      } else {
        target[out++] = (c >> 12) | 0xe0;
        target[out++] = ((c >> 6) & 0x3f) | 0x80;
        target[out++] = (c & 0x3f) | 0x80;
      }
    }
    length = out - at;
    const headBytes = length < 0x18 ? 1 : 2;
    if (headBytes !== at - position) target.copyWithin(position + headBytes, at, out);
  } else {
    const headBytes = chars * 3 < 0x10000 ? 3 : 5;
    length = utf8Write.call(target, value, position + headBytes, chars * 3);
    const want = length < 0x18 ? 1 : length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
    if (want !== headBytes) target.copyWithin(position + want, position + headBytes, position + headBytes + length);
  }
  writeHead(0x60, length);
  position += length;
}

function bytes(value: Uint8Array): void {
  const size = byteLengthOf.call(value);
  head(0x40, size);
  if (splitting && size >= SPLIT_BYTES) {
    // The block so far is one part, a copy of the caller's bytes the next; writing goes on after
    // them. A copy, made now: the caller may change its buffer as soon as the call is made
    // (values travel as structuredClone would take them), while the frame may leave the socket
    // ticks later, and the block's doubling copies would cost more. The copy goes into a spare
    // given back once an earlier message was written (copyBuffer), or a new one; bytes their
    // owner keeps unchanged until written (sendUncopied) go as they are.
    let copy: Uint8Array = value;
    if (!isUncopied(value)) {
      const buffer = copyBuffer(size);
      buffer.set(value);
      copies ??= [];
      copies.push(buffer);
      copy = buffer.length === size ? buffer : new Uint8Array(buffer.buffer, 0, size);
    }
    parts ??= [];
    parts.push(new Uint8Array(memory, start, position - start), copy);
    flushed += position - start + size;
    start = position;
    return;
  }
  room(size);
  setBytes.call(target, value, position);
  position += size;
}

/** What cbor-x writes for `value` alone, copied in. */
function delegate(value: unknown): void {
  const encoded = cbor.encode(value);
  room(encoded.length);
  target.set(encoded, position);
  position += encoded.length;
}

function item(value: unknown): void {
  switch (typeof value) {
    case 'string':
      text(value);
      return;
    case 'number':
      number(value);
      return;
    case 'boolean':
      room(1);
      target[position++] = value ? 0xf5 : 0xf4;
      return;
    case 'undefined':
      room(1);
      target[position++] = 0xf7;
      return;
    case 'object':
      if (value === null) {
        room(1);
        target[position++] = 0xf6;
      } else object(value);
      return;
    default:
      delegate(value);
  }
}

function object(value: object): void {
  if (ArrayBuffer.isView(value)) {
    // A Buffer is told by its prototype: a property read through a Buffer's prototype chain
    // (constructor, byteLength) is a generic load in V8's optimized code, one at each site. An
    // own `constructor` (never seen in practice) decides, as it always did.
    // An element read first (no side effect on a typed array): its map check lets V8 fold
    // getPrototypeOf() below to a constant, which is otherwise a call into the runtime.
    (value as Uint8Array)[0];
    const prototype = Object.hasOwn(value, 'constructor') ? undefined : Object.getPrototypeOf(value);
    if (prototype === BUFFER_PROTOTYPE) bytes(value as Buffer);
    else if (prototype === UINT8ARRAY_PROTOTYPE) {
      // cbor-x tags a plain Uint8Array (64) where Node has Buffers, to tell the two apart.
      room(2);
      target[position++] = 0xd8;
      target[position++] = 64;
      bytes(value as Uint8Array);
    } else if (prototype !== undefined) delegate(value);
    else constructed(value, (value as { constructor?: unknown }).constructor);
    return;
  }
  constructed(value, (value as { constructor?: unknown }).constructor);
}

/** object() by the value's `constructor`. */
function constructed(value: object, kind: unknown): void {
  if (kind === Object) map(value as Record<string, unknown>);
  else if (kind === Array) {
    const array = value as unknown[];
    head(0x80, array.length);
    for (let i = 0; i < array.length; i++) item(array[i]);
  } else if (kind === Buffer) bytes(value as Buffer);
  else if (kind === Uint8Array) {
    room(2);
    target[position++] = 0xd8;
    target[position++] = 64;
    bytes(value as Uint8Array);
  } else delegate(value);
}

/** A map with a 16-bit count always, filled in after the entries, as cbor-x writes objects. */
function map(object: Record<string, unknown>): void {
  room(3);
  target[position] = 0xb9;
  // Where the count goes, as an offset in the message: the block may move, or be split, meanwhile.
  const countAt = flushed + position + 1 - start;
  position += 3;
  let size = 0;
  const checkOwn = typeof object.hasOwnProperty === 'function';
  for (const key in object) {
    if (checkOwn && !Object.hasOwn(object, key)) continue;
    text(key);
    item(object[key]);
    size++;
  }
  // 65,536 keys and more: cbor-x widens the head; so rare that its own writer does it here.
  if (size >= 0x10000) {
    rewind(countAt - 1);
    delegate(object);
    return;
  }
  if (countAt >= flushed) {
    target[start + countAt - flushed] = size >> 8;
    target[start + countAt - flushed + 1] = size & 0xff;
  } else {
    // In a part already left behind (a map holding a large byte string): its two bytes are in
    // one part, the map's head having been written whole.
    const [part, at] = partAt(countAt);
    part[at] = size >> 8;
    part[at + 1] = size & 0xff;
  }
}

/** The part of the message that holds its byte `offset`, and where in it. */
function partAt(offset: number): [Uint8Array, number] {
  let at = offset;
  for (const part of parts ?? []) {
    if (at < part.length) return [part, at];
    at -= part.length;
  }
  throw new Error('offset past the parts');
}

/** Drops what the message has after its byte `offset`, so that writing goes on from there. */
function rewind(offset: number): void {
  if (offset >= flushed) {
    position = start + offset - flushed;
    return;
  }
  // Back into a part left behind: the parts after it dropped, its bytes before `offset` copied
  // to begin the part written now.
  const kept = parts as Uint8Array[];
  while (flushed - (kept[kept.length - 1] as Uint8Array).length > offset) {
    flushed -= (kept.pop() as Uint8Array).length;
  }
  const into = kept.pop() as Uint8Array;
  flushed -= into.length;
  const prefix = into.subarray(0, offset - flushed);
  start = position;
  room(prefix.length);
  target.set(prefix, position);
  position += prefix.length;
}

/** A fresh block if this one is nearly full; the message about to be written starts here. */
function begin(): void {
  if (target.length - position < 256) {
    target = Buffer.allocUnsafeSlow(ENCODE_BLOCK_BYTES);
    memory = target.buffer;
    words = new DataView(memory);
    position = 0;
  }
  start = position;
  parts = undefined;
  copies = undefined;
  flushed = 0;
}

/** The message begun, as a view; the next one starts after it. */
function end(): Uint8Array {
  // A plain view, not Buffer#subarray: a third of its cost, per message (docs/PERFORMANCE.md).
  const message = new Uint8Array(memory, start, position - start);
  start = position;
  return message;
}

/** end() of an envelope: its parts, if a large byte string left the block. */
function endEnvelope(): Encoded {
  splitting = false;
  const last = end();
  if (parts === undefined) return last;
  const all = parts;
  parts = undefined;
  if (last.length > 0) all.push(last);
  const taken = copies;
  copies = undefined;
  return new EncodedParts(all, flushed + last.length, taken);
}

/**
 * endEnvelope() of an envelope begun with a frame head: the frame's whole length, head included,
 * with the frame left in the block at framedAt(); or, when a large byte string left the block,
 * the message's parts without the head (the transport frames those itself).
 */
function endFrame(): number | EncodedParts {
  framing = false;
  if (parts !== undefined) {
    const encoded = endEnvelope() as EncodedParts;
    encoded.parts[0] = (encoded.parts[0] as Uint8Array).subarray(FRAME_HEAD_BYTES);
    return new EncodedParts(encoded.parts, encoded.length - FRAME_HEAD_BYTES, encoded.copies);
  }
  splitting = false;
  const length = position - start;
  const body = length - FRAME_HEAD_BYTES;
  target[start] = body >>> 24;
  target[start + 1] = (body >>> 16) & 0xff;
  target[start + 2] = (body >>> 8) & 0xff;
  target[start + 3] = body & 0xff;
  // Stored only when the block changed: a store of a new object is a write barrier, per message.
  if (framedMemory !== memory) framedMemory = memory;
  framedOffset = start;
  start = position;
  return length;
}

/** Where the frame an envelope encoder last returned as a length lies: never written again. */
export function framedAt(): ArrayBufferLike {
  return framedMemory;
}

/** The byte offset, in framedAt(), of that frame (its head). */
export function framedStart(): number {
  return framedOffset;
}

/** The message of that frame without its head, as a view (for a message sent in chunks). */
export function framedMessage(frameLength: number): Uint8Array {
  return new Uint8Array(framedMemory, framedOffset + FRAME_HEAD_BYTES, frameLength - FRAME_HEAD_BYTES);
}

/** Begins an envelope, with room for its frame head if `frame`. */
function beginEnvelope(frame: boolean): void {
  begin();
  splitting = true;
  framing = frame;
  if (frame) {
    room(FRAME_HEAD_BYTES);
    position += FRAME_HEAD_BYTES;
  }
}

/** Ends an envelope begun by beginEnvelope(). */
function finishEnvelope(): Encoded | number {
  return framing ? endFrame() : endEnvelope();
}

/** Forgets the message begun, after a failure. */
function abandon(): void {
  splitting = false;
  framing = false;
  parts = undefined;
  // Its copies, if any, are left to the collector.
  copies = undefined;
  flushed = 0;
  position = start;
}

/** The head of a map of `count` entries, as cbor-x writes an object's: always a 16-bit count. */
function mapHead(count: number): void {
  room(3);
  target[position] = 0xb9;
  target[position + 1] = 0;
  target[position + 2] = count;
  position += 3;
}

// The envelopes' keys as text() writes them, in stores of constant words: a key copied from
// prebuilt bytes cost a load per byte, and a byte per store more (docs/PERFORMANCE.md, (b)
// session 7). What follows a key overwrites the padding past its end.

/** The key of `length` bytes (up to 8), head included, packed big-endian in `word` and `rest`. */
function key(length: number, word: number, rest: number): void {
  room(8);
  words.setUint32(position, word);
  words.setUint32(position + 4, rest);
  position += length;
}

/** `{ kind: <kind>,` for a map of `count` entries, then `key` as key() takes it; a kind of 24 to 255. */
function kindHead(count: number, kind: number, length: number, word: number, rest: number): void {
  if (!(kind >= 0x18 && kind <= 0xff && (kind | 0) === kind)) {
    mapHead(count);
    key(5, 0x646b696e, 0x64000000);
    number(kind);
    key(length, word, rest);
    return;
  }
  room(18);
  const at = position;
  words.setUint32(at, 0xb9000064 | (count << 8)); // a map of `count` (16 bits), "kind"'s head
  words.setUint32(at + 4, 0x6b696e64);
  words.setUint16(at + 8, 0x1800 | kind);
  words.setUint32(at + 10, word);
  words.setUint32(at + 14, rest);
  position = at + 10 + length;
}

// The method a Call named last, as key() takes it, when text() wrote it in 8 bytes or fewer: a
// run of calls to one method writes it in two stores (text()'s character loop was 300
// instructions for "echo": docs/PERFORMANCE.md, (b) session 7).
let lastMethod: string | undefined;
let lastMethodLength = 0;
let lastMethodWord = 0;
let lastMethodRest = 0;

function methodText(method: string): void {
  // The 8 bytes read back below lie in the block.
  room(8);
  // As an offset in the part: text() may move the part to a fresh block before it writes.
  const from = position - start;
  text(method);
  const at = start + from;
  const length = position - at;
  if (length > 8) return;
  lastMethodWord = words.getUint32(at);
  lastMethodRest = words.getUint32(at + 4);
  lastMethodLength = length;
  lastMethod = method;
}

/**
 * The bytes encodeCbor writes for the object `{ kind, [targetKey]: target, method, args,
 * stack: true (only if `stack`), id }`, a Call (targetKey 'target') or an Invoke ('ref') with its
 * id added last, as connection.ts numbers requests; written without walking an object. `args`
 * must be prepared by values.ts already. With `frame`, the message is written as a frame, its
 * length in front, and its length returned (see endFrame()), unless it came out in parts.
 */
export function encodeCallEnvelope(
  kind: number,
  targetKey: string,
  targetId: number,
  method: string,
  args: unknown,
  stack: boolean,
  id: number,
  frame = false,
): Encoded | number {
  beginEnvelope(frame);
  try {
    if (targetKey === 'target') kindHead(stack ? 6 : 5, kind, 7, 0x66746172, 0x67657400);
    else kindHead(stack ? 6 : 5, kind, 4, 0x63726566, 0);
    number(targetId);
    key(7, 0x666d6574, 0x686f6400); // "method"
    if (method === lastMethod) key(lastMethodLength, lastMethodWord, lastMethodRest);
    else methodText(method);
    key(5, 0x64617267, 0x73000000); // "args"
    item(args);
    if (stack) key(7, 0x65737461, 0x636bf500); // "stack", true
    key(3, 0x62696400, 0); // "id"
    number(id);
  } catch (error) {
    abandon();
    throw error;
  }
  return finishEnvelope();
}

/**
 * The bytes encodeCbor writes for `{ kind, id, value }` (a Reply); `value` prepared by values.ts.
 * `frame` as for encodeCallEnvelope.
 */
export function encodeReplyEnvelope(kind: number, id: number, value: unknown, frame = false): Encoded | number {
  beginEnvelope(frame);
  try {
    kindHead(3, kind, 3, 0x62696400, 0); // "id"
    number(id);
    key(6, 0x6576616c, 0x75650000); // "value"
    item(value);
  } catch (error) {
    abandon();
    throw error;
  }
  return finishEnvelope();
}

/**
 * Encodes a value already prepared by values.ts. The result is a view into a shared block, never
 * written again: it may be kept, but not written to.
 */
export function encodeCbor(value: unknown): Uint8Array {
  begin();
  try {
    item(value);
  } catch (error) {
    abandon();
    throw error;
  }
  return end();
}

/**
 * The bytes encodeCbor writes for a Chunk `{ kind, transfer, offset, total, request?, reply?,
 * data }` up to its data: the data's byte-string head is the last thing written, so that the
 * data itself, `dataLength` bytes, follows as a part of its own (chunks.ts).
 */
export function encodeChunkHead(
  transfer: number,
  offset: number,
  total: number,
  request: number | undefined,
  reply: number | undefined,
  dataLength: number,
): Uint8Array {
  begin();
  try {
    mapHead(5 + (request === undefined ? 0 : 1) + (reply === undefined ? 0 : 1));
    text('kind');
    number(Kind.Chunk);
    text('transfer');
    number(transfer);
    text('offset');
    number(offset);
    text('total');
    number(total);
    if (request !== undefined) {
      text('request');
      number(request);
    }
    if (reply !== undefined) {
      text('reply');
      number(reply);
    }
    text('data');
    head(0x40, dataLength);
  } catch (error) {
    abandon();
    throw error;
  }
  return end();
}
