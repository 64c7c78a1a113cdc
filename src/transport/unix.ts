// Transport over Unix domain sockets (named pipes on Windows would be a sibling of this file).
// It frames, batches writes per tick and honours the socket's backpressure; it never decodes.

// Node's Buffer and process are getters on globalThis: imported, a flush reads no getter.
import { Buffer } from 'node:buffer';
import net from 'node:net';
import process from 'node:process';
import { RuntableError } from '../errors.js';
import { FramedRun, framed, type Queued, writeFrames, writtenOf } from './frame-writes.js';
import { FRAME_HEADER_BYTES, FrameReader } from './framing.js';
import { guardTimer } from './keep-alive.js';
import { checkSocketPath, withPrivateUmask } from './paths.js';
import type { Listener, Transport, TransportOptions } from './transport.js';
import { EARLY_FRAMES, EARLY_FRAMES_MAX, WritePacing } from './write-pacing.js';

/** Frames smaller than this are copied into one buffer per flush; larger ones go by writev. */
const COALESCE_LIMIT_BYTES = 64 * 1024;
/** How long a closing socket may take to deliver its last frames. */
const LINGER_MS = 1000;
/**
 * How long a socket stays open after its peer's end of stream. The close of a peer that died
 * makes this process write (a broker tells the watchers of the entries that left); the reader
 * woken by that write may wait for this process's CPU until it sleeps, so destroying the socket
 * (and Node's own end and destroy of a socket that is not half-open) waits until after.
 */
const DESTROY_AFTER_END_MS = 20;

class SocketTransport implements Transport {
  onFrame: (frame: Uint8Array) => void = () => {};
  onFrameParts: ((parts: Uint8Array[], length: number) => void) | undefined;
  onFrameAt: ((memory: ArrayBufferLike, offset: number, length: number) => void) | undefined;
  onStreamError: (error: Error) => void = (error) => this.close(error);
  onWritable: () => void = () => {};
  onClose: (error?: Error) => void = () => {};
  readonly #socket: net.Socket;
  readonly #reader: FrameReader;
  #queue: Queued[] = [];
  #queuedBytes = 0;
  /** The run of framed frames being gathered (sendFramed): its memory, start and end, not queued yet. */
  #runMemory: ArrayBufferLike | undefined;
  #runStart = 0;
  #runEnd = 0;
  #flushScheduled = false;
  /** Frames framed by the encoder (sendFramed) in this tick, written early or not. */
  #tickFrames = 0;
  readonly #pacing = new WritePacing();
  #closed = false;
  #closeError: Error | undefined;

  constructor(socket: net.Socket, options: TransportOptions) {
    this.#socket = socket;
    this.#reader = new FrameReader(options.maxFrameBytes);
    socket.setNoDelay?.(true);
    if (options.holdsProcess === false) socket.unref();
    const onFrame = (frame: Uint8Array) => {
      if (!this.#closed) this.onFrame(frame);
    };
    const onFrameAt = (memory: ArrayBufferLike, offset: number, length: number) => {
      if (this.#closed) return;
      if (this.onFrameAt) this.onFrameAt(memory, offset, length);
      else this.onFrame(new Uint8Array(memory, offset, length));
    };
    const onParts = (parts: Uint8Array[], length: number) => {
      if (this.#closed) return;
      if (this.onFrameParts) this.onFrameParts(parts, length);
      else this.onFrame(Buffer.concat(parts, length));
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#reader.push(chunk, onFrame, onParts, onFrameAt);
      } catch (error) {
        this.onStreamError(error as Error);
      }
    });
    socket.on('drain', () => this.#flush());
    // An error closes the socket (Node destroys it): reported here, not at its 'close' a tick
    // later. A peer killed with bytes it had not read yet ends with ECONNRESET, not an end.
    socket.on('error', (error) => {
      this.#closeError ??= error;
      this.#finish(false);
    });
    // A peer never half-closes: its end of stream means it has gone (exited, or was killed), and
    // acting on it here rather than at 'close' tells watchers of a dead owner a tick sooner. The
    // socket is destroyed once what its end made this process write has been read.
    socket.on('end', () => {
      this.#finish(false);
      setTimeout(() => socket.destroy(), DESTROY_AFTER_END_MS).unref();
    });
    socket.on('close', () => this.#finish());
  }

  get pendingBytes(): number {
    return this.#queuedBytes + this.#socket.writableLength;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(frame: Uint8Array): void {
    if (this.#closed) return;
    if (this.#runMemory !== undefined) this.#endRun();
    this.#queue.push(frame);
    this.#queuedBytes += FRAME_HEADER_BYTES + frame.length;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // nextTick runs after the current microtasks drain, so replies produced by a burst of
    // promise callbacks leave together.
    process.nextTick(() => {
      this.#flushScheduled = false;
      this.#pacing.tickEnded(this.#tickFrames);
      this.#tickFrames = 0;
      this.#flush();
    });
  }

  flush(): void {
    this.#flush();
  }

  sendFramed(memory: ArrayBufferLike, offset: number, length: number): void {
    if (this.#closed) return;
    if (memory !== this.#runMemory || offset !== this.#runEnd) {
      if (this.#runMemory !== undefined) this.#endRun();
      this.#runMemory = memory;
      this.#runStart = offset;
    }
    this.#runEnd = offset + length;
    this.#queuedBytes += length;
    // A tick's first calls or replies in slices (write-pacing.ts), where that measured faster.
    if (
      ++this.#tickFrames % EARLY_FRAMES === 0 &&
      this.#tickFrames <= EARLY_FRAMES_MAX &&
      this.#pacing.early &&
      !this.#socket.writableNeedDrain
    ) {
      this.#write();
    }
    this.#scheduleFlush();
  }

  /** Queues the run of framed frames gathered so far, as one view. */
  #endRun(): void {
    this.#queue.push(
      new FramedRun(Buffer.from(this.#runMemory as ArrayBuffer, this.#runStart, this.#runEnd - this.#runStart)),
    );
    this.#runMemory = undefined;
  }

  sendParts(parts: readonly Uint8Array[], written?: () => void): void {
    if (this.#closed) return;
    if (this.#runMemory !== undefined) this.#endRun();
    let length = 0;
    for (const part of parts) length += part.length;
    this.#queue.push({ parts, length, written });
    this.#queuedBytes += FRAME_HEADER_BYTES + length;
    this.#scheduleFlush();
  }

  close(error?: Error, linger = false): void {
    if (this.#closed) return;
    this.#closeError ??= error;
    if (this.#runMemory !== undefined) this.#endRun();
    if (linger && this.#queue.length > 0) {
      this.#socket.end(framed(this.#queue, this.#queuedBytes));
      // A peer that never reads must not keep the socket alive.
      setTimeout(() => this.#socket.destroy(), LINGER_MS).unref();
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#socket.removeAllListeners('data');
      this.#finish(false);
      return;
    }
    this.#finish();
  }

  #flush(): void {
    if (this.#closed || this.#socket.writableNeedDrain) return;
    this.#write();
    if (!this.#socket.writableNeedDrain) this.onWritable();
  }

  /** Writes what is queued (the socket is open and needs no drain). */
  #write(): void {
    if (this.#runMemory !== undefined) this.#endRun();
    if (this.#queue.length > 0) {
      const queue = this.#queue;
      const bytes = this.#queuedBytes;
      this.#queue = [];
      this.#queuedBytes = 0;
      const only = queue.length === 1 ? queue[0] : undefined;
      // A tick's calls or replies, framed by the encoder one after another: written as they lie.
      if (only instanceof FramedRun) this.#socket.write(only.bytes);
      else {
        // Told only once this write is out: writes before it, which may hold views of the same
        // parts (a transfer's earlier chunks), are out then too, even where this one copied them.
        const written = writtenOf(queue);
        const done =
          written &&
          ((error?: Error | null) => {
            if (!error) for (const callback of written) callback();
          });
        if (bytes <= COALESCE_LIMIT_BYTES) this.#socket.write(framed(queue, bytes), done);
        else writeFrames(this.#socket, queue, done);
      }
    }
  }

  #finish(destroy = true): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#runMemory = undefined;
    this.#queuedBytes = 0;
    if (destroy) this.#socket.destroy();
    this.onClose(this.#closeError);
  }
}

export function wrapSocket(socket: net.Socket, options: TransportOptions): Transport {
  return new SocketTransport(socket, options);
}

/** Connects to a listening socket; rejects with TABLE_UNAVAILABLE-worthy errors left to the caller. */
export function connectUnix(path: string, options: TransportOptions & { timeout: number }): Promise<Transport> {
  checkSocketPath(path);
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path });
    const timer = guardTimer(options.timeout, () => {
      socket.destroy();
      reject(new RuntableError('TIMEOUT', `connecting to ${path} took longer than ${options.timeout} ms`));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(wrapSocket(socket, options));
    });
  });
}

/** Listens on `path` with a socket file of mode 0600. The path must be free (see paths.ts). */
export async function listenUnix(
  path: string,
  onConnection: (transport: Transport) => void,
  options: TransportOptions,
): Promise<Listener> {
  checkSocketPath(path);
  const sockets = new Set<net.Socket>();
  // Half-open, so that Node does not end and destroy a socket at its peer's end (see
  // DESTROY_AFTER_END_MS): the transport does, after.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    onConnection(wrapSocket(socket, options));
  });
  if (options.holdsProcess === false) server.unref();
  await withPrivateUmask(
    () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.removeListener('error', reject);
          resolve();
        });
      }),
  );
  return {
    address: path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
