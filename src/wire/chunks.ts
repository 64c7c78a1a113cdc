// Large messages as chunks: a message bigger than one chunk is sent as a transfer of Chunk
// messages, interleaved with other traffic, so a 100 MB argument does not stall small calls on
// the same connection. This file holds the limits of both sides and the sending side; the
// receiving side, which checks every chunk against its limits before it allocates and never waits
// forever for a transfer that stops, is chunk-assembler.ts.

import { type Encoded, EncodedParts, encodeChunkHead } from './cbor-encode.js';
import { encode } from './codec.js';
import type { Chunk } from './protocol.js';

/** Messages larger than this, encoded, travel in chunks of this size. */
export const CHUNK_BYTES = 64 * 1024;
/** Whole messages larger than this are refused (FRAME_TOO_LARGE); configurable per connection. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 * 1024;
/** Transfers one connection may have half-received at once. */
export const MAX_TRANSFERS_IN_PROGRESS = 64;
/** A transfer with no chunk for this long is dropped; configurable per connection. */
export const DEFAULT_TRANSFER_STALL_MS = 30_000;
/** Chunks are added to the transport only while less than this is waiting to be written. */
export const BULK_HIGH_WATER_BYTES = 256 * 1024;

interface Outgoing {
  transfer: number;
  /** The message as it was queued, for the `onDone` of its transfer. */
  encoded: Encoded | undefined;
  /** The message, in the parts it was encoded as (one, unless a large byte string was left out). */
  parts: Uint8Array[];
  total: number;
  /** Bytes handed out so far; `part` and `partOffset` say where that is in `parts`. */
  offset: number;
  part: number;
  partOffset: number;
  request: number | undefined;
  reply: number | undefined;
}

/** What a message is, for the sender: what it names, and whether it must keep its place. */
export interface SendOrder {
  /** The id of the request this message is. */
  request?: number;
  /** The id of the request this message answers. */
  reply?: number;
  /**
   * Kept in order with the other ordered messages (events, stream items, one-way calls): it waits
   * for a large ordered message before it to finish. Requests and replies are matched by id and
   * may overtake a large one, which is what keeps small calls moving during a big transfer.
   */
  ordered?: boolean;
}

/** Transfers the sender runs at once, well under what a receiver accepts (MAX_TRANSFERS_IN_PROGRESS). */
const MAX_ACTIVE_TRANSFERS = 16;

/**
 * Cuts large messages into chunks and hands out what to send next: ordered messages strictly in
 * their order, and the other transfers round-robin beside them, so none starves the others.
 */
export class ChunkSender {
  /** Ordered messages waiting behind a large one: whole small frames, or transfers. */
  readonly #lane: (Outgoing | Uint8Array)[] = [];
  readonly #active: Outgoing[] = [];
  readonly #waiting: Outgoing[] = [];
  readonly #onDone: (transfer: number, encoded: Encoded) => void;
  #nextTransfer = 1;
  #turn = 0;
  /** Bytes queued here and not yet handed out, for the slow-reader limit. */
  #queuedBytes = 0;

  /**
   * `onDone` is told, with the message, when a transfer's last chunk is being handed out: the
   * next() that returns it calls it first.
   */
  constructor(onDone: (transfer: number, encoded: Encoded) => void) {
    this.#onDone = onDone;
  }

  /** True when an ordered message must wait its turn rather than go at once. */
  get laneBusy(): boolean {
    return this.#lane.length > 0;
  }

  /** Queues an ordered message that is small but must wait behind the lane. */
  addInOrder(bytes: Uint8Array): void {
    this.#lane.push(bytes);
    this.#queuedBytes += bytes.length;
  }

  /** Bytes queued and not yet handed out. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** What is left of the largest message queued: the one message a peer may be slow to take. */
  get largestQueuedBytes(): number {
    let largest = 0;
    for (const o of [...this.#lane, ...this.#active, ...this.#waiting]) {
      const left = o instanceof Uint8Array ? o.length : o.total - o.offset;
      if (left > largest) largest = left;
    }
    return largest;
  }

  /** Queues a large message; returns its transfer id. */
  add(bytes: Encoded, order: SendOrder = {}): number {
    const transfer = this.#nextTransfer;
    this.#nextTransfer = transfer >= 0x7fffffff ? 1 : transfer + 1;
    const outgoing: Outgoing = {
      transfer,
      encoded: bytes,
      parts: bytes instanceof EncodedParts ? bytes.parts : [bytes],
      total: bytes.length,
      offset: 0,
      part: 0,
      partOffset: 0,
      request: order.request,
      reply: order.reply,
    };
    this.#queuedBytes += bytes.length;
    if (order.ordered) this.#lane.push(outgoing);
    else if (this.#active.length < MAX_ACTIVE_TRANSFERS) this.#active.push(outgoing);
    else this.#waiting.push(outgoing);
    return transfer;
  }

  /** The transfer of request `id` that still has chunks to hand out, if there is one. */
  carrying(request: number): number | undefined {
    const match = (o: Outgoing | Uint8Array) => !(o instanceof Uint8Array) && o.request === request;
    const found = (this.#active.find(match) ?? this.#waiting.find(match) ?? this.#lane.find(match)) as
      | Outgoing
      | undefined;
    return found?.transfer;
  }

  get idle(): boolean {
    return this.#lane.length === 0 && this.#active.length === 0;
  }

  /**
   * The next thing to send: a whole small frame from the lane, or a chunk's frame as its parts
   * (its head, then its data as views of the message's parts, never copied).
   */
  next(): Uint8Array | Uint8Array[] | undefined {
    // The lane and the round-robin transfers take turns.
    this.#turn ^= 1;
    const head = this.#lane[0];
    if (head && (this.#turn === 1 || this.#active.length === 0)) {
      if (head instanceof Uint8Array) {
        this.#lane.shift();
        this.#queuedBytes -= head.length;
        return head;
      }
      const chunk = this.#cut(head);
      if (head.offset === head.total) this.#lane.shift();
      return chunk;
    }
    const outgoing = this.#active.shift();
    if (!outgoing) return undefined;
    const chunk = this.#cut(outgoing);
    if (outgoing.offset < outgoing.total) this.#active.push(outgoing);
    else {
      const next = this.#waiting.shift();
      if (next) this.#active.push(next);
    }
    return chunk;
  }

  clear(): void {
    this.#lane.length = 0;
    this.#active.length = 0;
    this.#waiting.length = 0;
    this.#queuedBytes = 0;
  }

  #cut(outgoing: Outgoing): Uint8Array[] {
    const end = Math.min(outgoing.offset + CHUNK_BYTES, outgoing.total);
    const length = end - outgoing.offset;
    const frame = [
      encodeChunkHead(outgoing.transfer, outgoing.offset, outgoing.total, outgoing.request, outgoing.reply, length),
    ];
    // The data: views of the parts it spans (a chunk may begin in one part and end in another).
    let left = length;
    while (left > 0) {
      const part = outgoing.parts[outgoing.part] as Uint8Array;
      const take = Math.min(left, part.length - outgoing.partOffset);
      frame.push(part.subarray(outgoing.partOffset, outgoing.partOffset + take));
      left -= take;
      outgoing.partOffset += take;
      if (outgoing.partOffset === part.length) {
        outgoing.part++;
        outgoing.partOffset = 0;
      }
    }
    this.#queuedBytes -= length;
    outgoing.offset = end;
    if (end === outgoing.total) {
      // Nothing of the message is needed here any more.
      const encoded = outgoing.encoded as Encoded;
      outgoing.parts = [];
      outgoing.encoded = undefined;
      this.#onDone(outgoing.transfer, encoded);
    }
    return frame;
  }
}

const NO_BYTES = Buffer.alloc(0);

/** CBOR header of a byte string of `length` bytes (RFC 8949 major type 2). */
function byteStringHeader(length: number): Uint8Array {
  if (length < 24) return Uint8Array.of(0x40 | length);
  if (length < 0x100) return Uint8Array.of(0x58, length);
  if (length < 0x10000) return Uint8Array.of(0x59, length >> 8, length & 0xff);
  return Uint8Array.of(0x5a, length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff);
}

/**
 * A chunk's frame in two parts: its encoding up to its data, and the data itself, which is
 * never copied into an encoder buffer (a 1 MiB message was copied twice on its way out).
 * `data` must be the chunk's last key, as ChunkSender makes them.
 */
export function encodeChunk(chunk: Chunk): [head: Uint8Array, data: Uint8Array] {
  const encoded = encode({ ...chunk, data: NO_BYTES });
  // The empty byte string the codec wrote last, replaced by the real one's header.
  if (encoded[encoded.length - 1] !== 0x40) throw new Error('a chunk must end with its data');
  const header = byteStringHeader(chunk.data.length);
  const head = new Uint8Array(encoded.length - 1 + header.length);
  head.set(encoded.subarray(0, encoded.length - 1));
  head.set(header, encoded.length - 1);
  return [head, chunk.data];
}
