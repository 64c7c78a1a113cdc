// Two transports joined in memory, for running both ends of a connection in one process: the
// session, endpoint, streams and chunking tested without sockets or child processes. The bytes
// are framed and read back as a socket's are (framing.ts), delivered in a later turn of the
// event loop, and one side's frames can be held back (fence) to order a race on purpose.

import { FrameReader, frameHeader, MAX_FRAME_BYTES } from './framing.js';
import type { Network } from './network.js';
import type { Listener, Transport, TransportOptions } from './transport.js';

/** Where memoryNetwork endpoints are found: each listen takes the next address. */
const MEMORY_SCHEME = 'memory:';

export class MemoryTransport implements Transport {
  onFrame: (frame: Uint8Array) => void = () => {};
  onFrameAt: ((memory: ArrayBufferLike, offset: number, length: number) => void) | undefined;
  onStreamError: (error: Error) => void = (error) => this.close(error);
  onWritable: () => void = () => {};
  onClose: (error?: Error) => void = () => {};
  #peer: MemoryTransport | undefined;
  readonly #reader: FrameReader;
  /** Framed bytes sent and not yet handed to the peer. */
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #flushScheduled = false;
  #fences = 0;
  #closed = false;

  constructor(maxFrameBytes: number) {
    this.#reader = new FrameReader(maxFrameBytes);
  }

  /** Joins two transports; each one's frames arrive at the other. */
  static pair(options: Partial<TransportOptions> = {}): [MemoryTransport, MemoryTransport] {
    const maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    const a = new MemoryTransport(maxFrameBytes);
    const b = new MemoryTransport(maxFrameBytes);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  get pendingBytes(): number {
    return this.#queuedBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(frame: Uint8Array): void {
    this.#queueBytes(frameHeader(frame.length), frame);
  }

  sendParts(parts: readonly Uint8Array[]): void {
    let length = 0;
    for (const part of parts) length += part.length;
    this.#queueBytes(frameHeader(length), ...parts);
  }

  /**
   * Holds every frame this side sends until the returned function is called (capnweb's fence):
   * the peer sees nothing meanwhile, then all of it at once, in order.
   */
  fence(): () => void {
    this.#fences++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#fences--;
      if (this.#fences === 0) this.#scheduleFlush();
    };
  }

  close(error?: Error, linger = false): void {
    if (this.#closed) return;
    if (linger) this.#deliver();
    this.#finish(error);
    // The peer hears of it as a socket's end would reach it: later, after what was delivered.
    const peer = this.#peer;
    if (peer) setImmediate(() => peer.#finish(undefined));
  }

  #queueBytes(...parts: Uint8Array[]): void {
    if (this.#closed) return;
    for (const part of parts) {
      // Copied: the sender may reuse its buffer, as a socket write leaves it free to.
      const copy = Buffer.from(part);
      this.#queue.push(copy);
      this.#queuedBytes += copy.length;
    }
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#fences > 0) return;
    this.#flushScheduled = true;
    // Sent in one batch per tick, as the socket transport does; received in a later turn, as from a socket.
    process.nextTick(() => {
      this.#flushScheduled = false;
      if (this.#fences > 0) return;
      setImmediate(() => this.#deliver());
    });
  }

  #deliver(): void {
    const peer = this.#peer;
    if (this.#closed || this.#queue.length === 0 || !peer) return;
    const bytes = Buffer.concat(this.#queue, this.#queuedBytes);
    this.#queue = [];
    this.#queuedBytes = 0;
    peer.#receive(bytes);
    this.onWritable();
  }

  #receive(bytes: Buffer): void {
    if (this.#closed) return;
    try {
      this.#reader.push(
        bytes,
        (frame) => {
          if (!this.#closed) this.onFrame(frame);
        },
        undefined,
        (memory, offset, length) => {
          if (this.#closed) return;
          if (this.onFrameAt) this.onFrameAt(memory, offset, length);
          else this.onFrame(new Uint8Array(memory, offset, length));
        },
      );
    } catch (error) {
      this.onStreamError(error as Error);
    }
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.onClose(error);
  }
}

/**
 * A Network whose endpoints live in this process: listen() takes an address such as
 * "memory:1", and dial() of it hands the listener one end of a fresh MemoryTransport pair.
 */
export function memoryNetwork(): Network & { transports: MemoryTransport[] } {
  const listeners = new Map<string, (transport: MemoryTransport) => void>();
  let next = 1;
  const transports: MemoryTransport[] = [];
  return {
    transports,
    listen: async (onConnection) => {
      const address = `${MEMORY_SCHEME}${next++}`;
      const accepted = new Set<MemoryTransport>();
      listeners.set(address, (transport) => {
        accepted.add(transport);
        onConnection(transport);
      });
      return {
        address,
        close: async () => {
          listeners.delete(address);
          for (const transport of accepted) transport.close();
        },
      } satisfies Listener;
    },
    dial: async (address, options) => {
      const accept = listeners.get(address);
      if (!accept) {
        throw Object.assign(new Error(`nothing listens at ${address}`), { code: 'ECONNREFUSED' });
      }
      const [client, server] = MemoryTransport.pair(options);
      transports.push(client, server);
      accept(server);
      return client;
    },
  };
}
