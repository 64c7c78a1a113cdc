// The small interface the core talks through. A transport moves whole frames between two ends;
// it knows nothing of messages. Unix sockets (unix.ts), TCP with or without TLS (tcp.ts) and an
// in-memory pair for one-process tests (memory.ts) implement it; named pipes would be one more file.

export interface Transport {
  /**
   * Queues a frame; frames queued in the same tick leave in one write (a socket's busy tick of
   * sendFramed frames may leave its first ones early, in slices: write-pacing.ts).
   */
  send(frame: Uint8Array): void;
  /**
   * Queues one frame made of `parts` back to back, so that large parts need not be copied to join
   * them. The parts are written as they are when the frame leaves: they must not change until then.
   * `written`, if given, may be called once the transport holds no reference to them any more
   * (they have been handed to the operating system, or copied); a transport may never call it.
   */
  sendParts(parts: readonly Uint8Array[], written?: () => void): void;
  /**
   * Optional: queues frames already framed (each its 4-byte length in front), `length` bytes at
   * `offset` in `memory`, which nobody writes again. Ranges that follow one another in the same
   * memory leave as one piece, not copied (the encoder's block: wire/cbor-encode.ts endFrame()).
   */
  sendFramed?(memory: ArrayBufferLike, offset: number, length: number): void;
  /** Optional: writes what is queued now rather than at the end of the tick. */
  flush?(): void;
  /** Set once, right after the transport is made; called for every complete frame. */
  onFrame: (frame: Uint8Array) => void;
  /**
   * Set, if at all, with onFrame: then every complete frame comes here instead, as `length` bytes
   * at `offset` in `memory` (a read's memory, never written again), so that a receiver that reads
   * frames in place need not make a view of each (wire/connection.ts).
   */
  onFrameAt?: ((memory: ArrayBufferLike, offset: number, length: number) => void) | undefined;
  /**
   * Set, if at all, with onFrame: then a large frame that arrived over several reads comes here
   * as views of them, in order, instead of joined into one buffer for onFrame (framing.ts).
   * The views are valid only during the call: copy what is kept.
   */
  onFrameParts?: ((parts: Uint8Array[], length: number) => void) | undefined;
  /** Called when the byte stream can no longer be trusted (bad length); by default it closes. */
  onStreamError: (error: Error) => void;
  /** Called when queued frames have been handed to the socket and it can take more. */
  onWritable: () => void;
  /** Called once when the transport closes, with the reason if it failed. */
  onClose: (error?: Error) => void;
  /** Bytes accepted by send() and not yet handed to the operating system. */
  readonly pendingBytes: number;
  readonly closed: boolean;
  /**
   * Closes and reports onClose at once. Frames still queued are dropped, unless `linger` is set:
   * then they are written before the socket ends (to tell a peer why it is being dropped).
   */
  close(error?: Error, linger?: boolean): void;
}

export interface Listener {
  /** Where peers connect: a socket path for Unix sockets. */
  readonly address: string;
  close(): Promise<void>;
}

export interface TransportOptions {
  /** Frames announced larger than this are refused before allocation (FRAME_TOO_LARGE). */
  maxFrameBytes: number;
  /**
   * Whether the socket (or listening server) alone keeps the process running; default true, as in
   * Node. A library's sockets say false: keep-alive.ts decides for them whether the process stays.
   */
  holdsProcess?: boolean;
}
