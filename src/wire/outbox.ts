// The sending half of a connection: small messages go straight to the transport and large ones
// in chunks beside them; ordered messages keep their order; a Cancel never overtakes the call
// it cancels; a peer that leaves too much unread is dropped.

import { RuntableError } from '../errors.js';
import { FRAME_HEADER_BYTES } from '../transport/framing.js';
import type { Transport } from '../transport/transport.js';
import { framedAt, framedMessage, framedStart } from './cbor-encode.js';
import { BULK_HIGH_WATER_BYTES, CHUNK_BYTES, ChunkSender, type SendOrder } from './chunks.js';
import { type Encoded, EncodedParts } from './encoded.js';
import { releaseCopies } from './large-bytes.js';

export interface OutboxOptions {
  /** Larger messages are refused (FRAME_TOO_LARGE) before anything is queued. */
  maxSendBytes: number;
  /** Unread bytes beyond the one largest message past which the peer is dropped. */
  maxPendingBytes: number;
  /** Sends the Cancel of request `id` now. */
  sendCancel: (id: number) => void;
  /** Told, with the bytes left unread, when the peer is over maxPendingBytes; it drops the peer. */
  overflow: (pending: number) => void;
}

export class Outbox {
  readonly #transport: Transport;
  readonly #options: OutboxOptions;
  readonly #chunks = new ChunkSender((transfer, encoded) => this.#transferDone(transfer, encoded));
  /** The message whose last chunk the sender is handing out now, if it holds copies to give back. */
  #finished: EncodedParts | undefined;
  /**
   * Transfer to the Cancel to send once its last chunk is out; written only by a Cancel (no Map
   * written per transfer: see ChunkAssembler on tables rebuilt in the old generation).
   */
  readonly #cancelAfter = new Map<number, number>();

  /**
   * Whether the transport takes frames framed by the encoder (Transport.sendFramed): then calls
   * and replies are encoded as frames and handed over as their length (sendNumbered).
   */
  readonly framing: boolean;

  constructor(transport: Transport, options: OutboxOptions) {
    this.#transport = transport;
    this.#options = options;
    this.framing = typeof transport.sendFramed === 'function';
  }

  /** Bytes queued for the peer and not yet written, chunks still to be cut included. */
  get pendingBytes(): number {
    return this.#transport.pendingBytes + this.#chunks.queuedBytes;
  }

  /** Queues one encoded message; throws FRAME_TOO_LARGE past maxSendBytes. */
  send(bytes: Encoded, order: SendOrder = {}): void {
    if (bytes.length <= CHUNK_BYTES) {
      if (order.ordered && this.#chunks.laneBusy) {
        // The lane holds whole frames; only calls and replies come in parts, and they are not ordered.
        this.#chunks.addInOrder(bytes instanceof EncodedParts ? Buffer.concat(bytes.parts, bytes.length) : bytes);
        this.pump();
      } else if (bytes instanceof EncodedParts) this.#sendParts(bytes);
      else this.#transport.send(bytes);
      this.#checkBacklog();
      return;
    }
    if (bytes.length > this.#options.maxSendBytes) {
      throw new RuntableError(
        'FRAME_TOO_LARGE',
        `message of ${bytes.length} bytes is over the limit of ${this.#options.maxSendBytes} (maxMessageBytes)`,
      );
    }
    this.#chunks.add(bytes, order);
    this.pump();
    this.#checkBacklog();
  }

  /**
   * send() of a request (`request`, its id) or a reply (`reply`, the id it answers), with the
   * order made only for a message large enough to need it: no object per small call.
   */
  sendNumbered(encoded: Encoded | number, request: number | undefined, reply: number | undefined): void {
    let bytes: Encoded;
    if (typeof encoded === 'number') {
      // A frame the encoder wrote with its length in front (only when `framing`).
      if (encoded - FRAME_HEADER_BYTES <= CHUNK_BYTES) {
        (this.#transport.sendFramed as NonNullable<Transport['sendFramed']>)(framedAt(), framedStart(), encoded);
        this.#checkBacklog();
        return;
      }
      bytes = framedMessage(encoded);
    } else bytes = encoded;
    if (bytes.length <= CHUNK_BYTES) {
      if (bytes instanceof EncodedParts) this.#sendParts(bytes);
      else this.#transport.send(bytes);
      this.#checkBacklog();
    } else this.send(bytes, request !== undefined ? { request } : reply !== undefined ? { reply } : {});
  }

  /** Hands chunks to the transport while it takes them; again whenever it becomes writable. */
  pump(): void {
    while (!this.#chunks.idle && !this.#transport.closed && this.#transport.pendingBytes < BULK_HIGH_WATER_BYTES) {
      const next = this.#chunks.next();
      const finished = this.#finished;
      this.#finished = undefined;
      if (next instanceof Uint8Array) this.#transport.send(next);
      else if (next) this.#transport.sendParts(next, finished && (() => releaseCopies(finished)));
    }
  }

  /** A message in parts, whole: its copies given back once the transport has written them. */
  #sendParts(encoded: EncodedParts): void {
    this.#transport.sendParts(encoded.parts, encoded.copies && (() => releaseCopies(encoded)));
  }

  /** Cancels request `id`: at once, or after the last chunk of the call it cancels. */
  cancel(id: number): void {
    if (this.#transport.closed) return;
    const transfer = this.#chunks.carrying(id);
    if (transfer !== undefined) this.#cancelAfter.set(transfer, id);
    else this.#options.sendCancel(id);
  }

  clear(): void {
    this.#chunks.clear();
    this.#cancelAfter.clear();
  }

  /** Drops a peer that leaves more than the limit unread; the one largest message is exempt. */
  #checkBacklog(): void {
    const pending = this.pendingBytes;
    if (pending <= this.#options.maxPendingBytes || this.#transport.closed) return;
    // A single large message may wait on its own: a big transfer is slow, not a stuck peer.
    if (pending - this.#chunks.largestQueuedBytes <= this.#options.maxPendingBytes) return;
    this.#options.overflow(pending);
  }

  #transferDone(transfer: number, encoded: Encoded): void {
    if (encoded instanceof EncodedParts && encoded.copies) this.#finished = encoded;
    if (this.#cancelAfter.size === 0) return;
    const cancelled = this.#cancelAfter.get(transfer);
    if (cancelled === undefined) return;
    this.#cancelAfter.delete(transfer);
    // Queued behind the chunk being handed out now, so it arrives after the whole call.
    queueMicrotask(() => this.#options.sendCancel(cancelled));
  }
}
