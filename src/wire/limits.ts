// What one connection may take in and leave queued, as one object: built once in connect() from
// its options and handed down to every call connection the process opens or accepts. Each field
// names its default and the harm it bounds.

import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_TRANSFER_STALL_MS } from './chunks.js';

/**
 * Bytes queued for a peer and not yet written, beyond the largest single message: a peer that
 * stops reading (or reads far slower than it asks) is dropped past this, so it cannot make us
 * buffer without bound. Configurable per connection (`connect({ maxPendingBytes })`).
 */
export const DEFAULT_MAX_PENDING_WRITE_BYTES = 64 * 1024 * 1024;

export interface Limits {
  /**
   * The largest whole message taken (and sent, unless a connection says otherwise), bytes.
   * Default 1 GiB (DEFAULT_MAX_MESSAGE_BYTES): large values are a use, chunked so that they do
   * not stall small calls, and the bound keeps one peer from making us hold more than that.
   * A larger one is FRAME_TOO_LARGE for that message alone.
   */
  readonly maxMessageBytes: number;
  /**
   * Unwritten bytes beyond the largest message before the peer is dropped. Default 64 MiB
   * (DEFAULT_MAX_PENDING_WRITE_BYTES): a peer that stops reading cannot make us buffer without
   * bound, and one slow reader never blocks the others.
   */
  readonly maxPendingBytes: number;
  /**
   * A half-received large message with no new chunk for this long is dropped, ms. Default 30 s
   * (DEFAULT_TRANSFER_STALL_MS): a peer that starts a transfer and goes quiet frees what it held.
   */
  readonly transferStallMs: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  maxPendingBytes: DEFAULT_MAX_PENDING_WRITE_BYTES,
  transferStallMs: DEFAULT_TRANSFER_STALL_MS,
});

/** The limits of connect()'s options: each one given, else its default. */
export function limitsOf(options: { maxMessageBytes?: number; maxPendingBytes?: number }): Limits {
  return Object.freeze({
    ...DEFAULT_LIMITS,
    ...(options.maxMessageBytes === undefined ? {} : { maxMessageBytes: options.maxMessageBytes }),
    ...(options.maxPendingBytes === undefined ? {} : { maxPendingBytes: options.maxPendingBytes }),
  });
}
