// The receiving side of large messages (chunks.ts sends them): the chunks of each transfer are
// checked against the connection's limits before anything is allocated, copied once into their
// message, and a transfer that stops getting chunks is dropped.

import { RuntableError } from '../errors.js';
import { MAX_TRANSFERS_IN_PROGRESS } from './chunks.js';
import { type Chunk, Kind } from './protocol.js';

/**
 * A Chunk as it arrived in a frame of several parts (transport.ts, onFrameParts): its fields, and
 * its data left where it is, `dataLength` bytes from byte `dataStart` of the parts on.
 */
export interface ChunkInParts {
  kind: typeof Kind.Chunk;
  transfer: number;
  offset: number;
  total: number;
  request?: number;
  reply?: number;
  parts: readonly Uint8Array[];
  dataStart: number;
  dataLength: number;
}

/** A chunk's head is shorter than this (the keys, five 32-bit numbers and the data's head). */
const CHUNK_HEAD_MAX_BYTES = 96;
const CHUNK_KEYS = ['kind', 'transfer', 'offset', 'total', 'request', 'reply', 'data'];

/**
 * The Chunk in a frame of parts, if it is written as runtable writes one (encodeChunkHead): keys
 * in that order, numbers of at most 32 bits, the data last and filling the frame. Anything else is
 * undefined, for the caller to join and decode the general way; a match is exactly what that
 * decoding and validate.ts would accept and give.
 */
export function chunkInParts(parts: readonly Uint8Array[], length: number): ChunkInParts | undefined {
  let head = parts[0] as Uint8Array;
  if (head.length < CHUNK_HEAD_MAX_BYTES && head.length < length) {
    head = Buffer.concat(parts, Math.min(length, CHUNK_HEAD_MAX_BYTES));
  }
  const count = head[2] as number;
  if (head[0] !== 0xb9 || head[1] !== 0x00 || count < 5 || count > 7) return undefined;
  let at = 3;
  const fields: number[] = [];
  const present: string[] = [];
  for (const key of CHUNK_KEYS) {
    if (present.length === count - 1 && key !== 'data') continue;
    // The key, as a short text string.
    if (head[at] !== 0x60 + key.length) {
      if (key === 'request' || key === 'reply') continue;
      return undefined;
    }
    for (let i = 0; i < key.length; i++) if (head[at + 1 + i] !== key.charCodeAt(i)) return undefined;
    const next = at + 1 + key.length;
    if (key === 'data') {
      at = next;
      break;
    }
    const value = uintAt(head, next);
    if (value < 0) return undefined;
    at = next + (UINT_BYTES[(head[next] as number) & 0x1f] as number);
    fields.push(value);
    present.push(key);
  }
  if (present.length !== count - 1 || fields[0] !== Kind.Chunk) return undefined;
  const info = (head[at] as number) ^ 0x40;
  if (info > 26) return undefined;
  const dataLength = uintAt(head, at, 0x40);
  if (dataLength < 0) return undefined;
  const dataStart = at + (UINT_BYTES[info] as number);
  if (dataStart + dataLength !== length) return undefined;
  const chunk: ChunkInParts = {
    kind: Kind.Chunk,
    transfer: fields[1] as number,
    offset: fields[2] as number,
    total: fields[3] as number,
    parts,
    dataStart,
    dataLength,
  };
  for (let i = 4; i < present.length; i++) chunk[present[i] as 'request' | 'reply'] = fields[i] as number;
  return chunk;
}

/** Bytes an item head of additional information 0 to 26 takes. */
const UINT_BYTES = [...new Array<number>(24).fill(1), 2, 3, 5];

/** The argument of the item head of major type `major` at `at`, if it has at most 32 bits; else -1. */
function uintAt(bytes: Uint8Array, at: number, major = 0): number {
  const first = bytes[at];
  if (first === undefined || first >> 5 !== major >> 5) return -1;
  const info = first & 0x1f;
  if (info > 26 || at + (UINT_BYTES[info] as number) > bytes.length) return -1;
  if (info < 24) return info;
  if (info === 24) return bytes[at + 1] as number;
  if (info === 25) return ((bytes[at + 1] as number) << 8) | (bytes[at + 2] as number);
  return (
    (bytes[at + 1] as number) * 0x100_0000 +
    (((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 8) | (bytes[at + 4] as number))
  );
}

interface Incoming {
  transfer: number;
  /** Undefined for a refused transfer, whose chunks are counted and dropped. */
  bytes: Uint8Array | undefined;
  total: number;
  received: number;
  /** When its last chunk came (Date.now()), for the stall timer. */
  lastAt: number;
}

/**
 * Reassembles the transfers of one connection. Its state lives in an array and one timer made
 * once: a Map or a timer per transfer would rebuild a table in the old generation every few
 * transfers, and each such allocation makes V8 check its heap limit against all the external
 * memory allocated since the last full collection, young buffers included, which starts an
 * incremental mark-compact every few 1 MiB messages (docs/PERFORMANCE.md, "Session 6: (c)").
 */
export class ChunkAssembler {
  readonly #maxMessageBytes: number;
  readonly #stallMs: number;
  readonly #onStall: (transfer: number) => void;
  /** The transfers in progress, at most MAX_TRANSFERS_IN_PROGRESS, in no order. */
  readonly #transfers: Incoming[] = [];
  /** Armed while a transfer is in progress; it looks for stalled ones when it fires. */
  #timer: NodeJS.Timeout | undefined;
  /** The delay `#timer` was made with: refresh() re-arms it for that long. */
  #timerMs = 0;
  #timerArmed = false;

  constructor(maxMessageBytes: number, stallMs: number, onStall: (transfer: number) => void) {
    this.#maxMessageBytes = maxMessageBytes;
    this.#stallMs = stallMs;
    this.#onStall = onStall;
  }

  /** Adds a chunk; returns the whole message once its last chunk is in. Throws on any violation. */
  add(chunk: Chunk | ChunkInParts): Uint8Array | undefined {
    let incoming = this.#find(chunk.transfer);
    const now = Date.now();
    if (!incoming) {
      if (chunk.offset !== 0) {
        throw new RuntableError(
          'PROTOCOL',
          `chunk at offset ${chunk.offset} of transfer ${chunk.transfer}, which never began`,
        );
      }
      if (this.#transfers.length >= MAX_TRANSFERS_IN_PROGRESS) {
        throw new RuntableError('PROTOCOL', `more than ${MAX_TRANSFERS_IN_PROGRESS} transfers in progress`);
      }
      // Too large, alone or with what is already being received (a peer could otherwise make us
      // reserve many messages' worth at once): its chunks are counted through and dropped, and
      // the refusal is reported once.
      const refused = chunk.total > this.#maxMessageBytes - this.bufferedBytes;
      incoming = {
        transfer: chunk.transfer,
        bytes: refused ? undefined : Buffer.allocUnsafe(chunk.total),
        total: chunk.total,
        received: 0,
        lastAt: now,
      };
      this.#transfers.push(incoming);
      this.#arm(this.#stallMs);
      if (refused) {
        this.#advance(chunk, incoming);
        throw new RuntableError(
          'FRAME_TOO_LARGE',
          `a message of ${chunk.total} bytes was sent; the limit here is ${this.#maxMessageBytes} (maxMessageBytes) for all messages being received at once`,
        );
      }
    } else {
      incoming.lastAt = now;
    }
    const bytes = this.#advance(chunk, incoming);
    if (incoming.received < incoming.total || !bytes) return undefined;
    return bytes;
  }

  /** Checks and takes one chunk; returns the buffer when this chunk completed the transfer. */
  #advance(chunk: Chunk | ChunkInParts, incoming: Incoming): Uint8Array | undefined {
    const length = 'data' in chunk ? chunk.data.length : chunk.dataLength;
    if (chunk.offset !== incoming.received || chunk.total !== incoming.total) {
      this.#drop(chunk.transfer);
      throw new RuntableError(
        'PROTOCOL',
        `transfer ${chunk.transfer} is out of order: chunk at ${chunk.offset} of ${chunk.total}, expected ${incoming.received} of ${incoming.total}`,
      );
    }
    if (chunk.offset + length > incoming.total || length === 0) {
      this.#drop(chunk.transfer);
      throw new RuntableError('PROTOCOL', `chunk of transfer ${chunk.transfer} overruns its announced size`);
    }
    if (incoming.bytes) {
      if ('data' in chunk) incoming.bytes.set(chunk.data, chunk.offset);
      else copyParts(chunk, incoming.bytes);
    }
    incoming.received += length;
    if (incoming.received === incoming.total) this.#drop(chunk.transfer);
    return incoming.bytes;
  }

  /** Transfers begun and not yet whole. */
  get inProgress(): number {
    return this.#transfers.length;
  }

  /** Bytes held for transfers in progress. */
  get bufferedBytes(): number {
    let total = 0;
    for (const incoming of this.#transfers) total += incoming.bytes?.length ?? 0;
    return total;
  }

  clear(): void {
    this.#transfers.length = 0;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerArmed = false;
  }

  #find(transfer: number): Incoming | undefined {
    const transfers = this.#transfers;
    for (let i = 0; i < transfers.length; i++) {
      const incoming = transfers[i] as Incoming;
      if (incoming.transfer === transfer) return incoming;
    }
    return undefined;
  }

  #drop(transfer: number): void {
    const transfers = this.#transfers;
    for (let i = 0; i < transfers.length; i++) {
      if ((transfers[i] as Incoming).transfer !== transfer) continue;
      // Order does not matter: the last one takes its place.
      const last = transfers.pop() as Incoming;
      if (i < transfers.length) transfers[i] = last;
      return;
    }
  }

  /**
   * Makes the timer fire in `ms` unless it is armed already (it then fires no later than a stall
   * that began since would end). One Timeout for the assembler's life, re-armed by refresh().
   */
  #arm(ms: number): void {
    if (this.#timerArmed) return;
    this.#timerArmed = true;
    if (this.#timer && ms === this.#timerMs) {
      this.#timer.refresh();
      return;
    }
    this.#timer = setTimeout(() => this.#checkStalls(), ms);
    this.#timer.unref();
    this.#timerMs = ms;
  }

  /** Drops every transfer with no chunk for the stall time; arms again for the others. */
  #checkStalls(): void {
    this.#timerArmed = false;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const incoming of [...this.#transfers]) {
      const due = incoming.lastAt + this.#stallMs;
      if (due <= now) {
        this.#drop(incoming.transfer);
        this.#onStall(incoming.transfer);
      } else next = Math.min(next, due);
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next - now);
  }
}

/** The chunk's data, from its parts into the message at the chunk's offset: the one copy it takes. */
function copyParts(chunk: ChunkInParts, into: Uint8Array): void {
  let skip = chunk.dataStart;
  let at = chunk.offset;
  for (const part of chunk.parts) {
    if (skip >= part.length) {
      skip -= part.length;
      continue;
    }
    into.set(skip === 0 ? part : part.subarray(skip), at);
    at += part.length - skip;
    skip = 0;
  }
}
