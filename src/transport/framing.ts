// Length-prefixed frames over a byte stream: a 4-byte big-endian length, then that many bytes.
// The reader checks the length against its limit before it allocates anything, so a peer
// cannot make us reserve memory by announcing a huge frame.

import { RuntableError } from '../errors.js';

export const FRAME_HEADER_BYTES = 4;
/**
 * The largest frame any runtable connection accepts. Larger messages travel as chunks (see
 * chunks.ts), so an honest peer's frames stay near CHUNK_BYTES.
 */
export const MAX_FRAME_BYTES = 1024 * 1024;

/**
 * A frame at least this large that arrives over several reads is handed, to a receiver that takes
 * parts, as views of those reads rather than copied together (a chunk's data is then copied once,
 * straight to where its message is reassembled). Smaller ones are joined: that copy is cheap.
 */
export const PARTS_MIN_BYTES = 4096;

/** Takes a frame that arrived in pieces: `parts`, `length` bytes in all, views of the reads. */
export type OnFrameParts = (parts: Uint8Array[], length: number) => void;

/** Takes a frame as its place: `length` bytes at `offset` in `memory`, which nobody writes again. */
export type OnFrameAt = (memory: ArrayBufferLike, offset: number, length: number) => void;

export function frameHeader(length: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(length, 0);
  return header;
}

/** Reassembles frames from stream chunks of any size. */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Length of the frame being assembled, or -1 while its header is incomplete. */
  #expected = -1;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /**
   * Feeds a chunk and calls `onFrame` for each complete frame, or `onFrameAt` if given (then no
   * view of the frame is made). Throws FRAME_TOO_LARGE or PROTOCOL when the stream can no longer
   * be trusted; the caller should then drop the connection.
   */
  push(chunk: Buffer, onFrame: (frame: Uint8Array) => void, onParts?: OnFrameParts, onFrameAt?: OnFrameAt): void {
    // The common case, whole frames inside one chunk, is sliced without copying.
    if (this.#buffered === 0 && this.#expected < 0) {
      let offset = 0;
      // Each frame a plain view on the chunk's memory: a third of the cost of Buffer#subarray
      // (docs/PERFORMANCE.md); the decoder makes the Buffers that values are.
      const memory = chunk.buffer;
      const base = chunk.byteOffset;
      while (chunk.length - offset >= FRAME_HEADER_BYTES) {
        // Byte by byte: chunk.readUInt32BE is a generic load on a Buffer in optimized code, per frame.
        const length = this.#checkLength(
          (chunk[offset] as number) * 0x1000000 +
            (((chunk[offset + 1] as number) << 16) |
              ((chunk[offset + 2] as number) << 8) |
              (chunk[offset + 3] as number)),
        );
        if (chunk.length - offset - FRAME_HEADER_BYTES < length) break;
        const start = offset + FRAME_HEADER_BYTES;
        offset = start + length;
        if (onFrameAt) onFrameAt(memory, base + start, length);
        else onFrame(new Uint8Array(memory, base + start, length));
      }
      if (offset === chunk.length) return;
      chunk = chunk.subarray(offset);
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#expected < 0) {
        if (this.#buffered < FRAME_HEADER_BYTES) return;
        this.#expected = this.#checkLength(this.#take(FRAME_HEADER_BYTES).readUInt32BE(0));
      }
      if (this.#buffered < this.#expected) return;
      const length = this.#expected;
      if (onParts && length >= PARTS_MIN_BYTES && (this.#chunks[0] as Buffer).length < length) {
        const parts = this.#takeParts(length);
        this.#expected = -1;
        onParts(parts, length);
        continue;
      }
      const frame = this.#take(length);
      this.#expected = -1;
      // Plain views on both paths: the decoder's sites see one receiver type.
      if (onFrameAt) onFrameAt(frame.buffer, frame.byteOffset, frame.length);
      else onFrame(new Uint8Array(frame.buffer, frame.byteOffset, frame.length));
    }
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#buffered;
  }

  #checkLength(length: number): number {
    if (length === 0) throw new RuntableError('PROTOCOL', 'empty frame');
    if (length > this.#maxFrameBytes) {
      throw new RuntableError(
        'FRAME_TOO_LARGE',
        `peer announced a frame of ${length} bytes; the limit here is ${this.#maxFrameBytes}`,
      );
    }
    return length;
  }

  /** The next `length` bytes as views of the chunks that hold them, nothing copied. */
  #takeParts(length: number): Uint8Array[] {
    const parts: Uint8Array[] = [];
    let left = length;
    while (left > 0) {
      const chunk = this.#chunks[0] as Buffer;
      const n = Math.min(chunk.length, left);
      parts.push(new Uint8Array(chunk.buffer, chunk.byteOffset, n));
      left -= n;
      if (n === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(n);
    }
    this.#buffered -= length;
    return parts;
  }

  #take(length: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    let out: Buffer;
    if (first.length >= length) {
      out = first.subarray(0, length);
      if (first.length === length) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(length);
    } else {
      out = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const chunk = this.#chunks[0] as Buffer;
        const n = Math.min(chunk.length, length - filled);
        chunk.copy(out, filled, 0, n);
        filled += n;
        if (n === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(n);
      }
    }
    this.#buffered -= length;
    return out;
  }
}
