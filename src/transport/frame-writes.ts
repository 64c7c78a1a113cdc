// How a socket's queued frames become writes: copied behind their lengths into one buffer, or,
// with large parts among them, one corked burst (writev) that writes those parts as they are.

import { Buffer } from 'node:buffer';
import type net from 'node:net';
import { FRAME_HEADER_BYTES } from './framing.js';

/**
 * Parts of a frame at least this large are written as they are (by writev); the smaller bits
 * around them (frame headers, chunk heads) are copied together into one buffer per flush.
 */
const WRITE_AS_IS_BYTES = 2048;

/** A frame made of parts, sent back to back. */
export interface PartsFrame {
  readonly parts: readonly Uint8Array[];
  readonly length: number;
  /** Told once the parts are no longer referenced here (Transport.sendParts). */
  readonly written: (() => void) | undefined;
}

/** Frames framed already, each its length in front (sendFramed), one after another. */
export class FramedRun {
  readonly bytes: Buffer;

  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }
}

/** A frame as queued: whole, or in parts, or a run of frames framed already. */
export type Queued = Uint8Array | PartsFrame | FramedRun;

/** The frames, each after its length, in one buffer of `bytes` (headers included). */
export function framed(frames: Queued[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let offset = 0;
  for (const frame of frames) {
    if (frame instanceof FramedRun) {
      out.set(frame.bytes, offset);
      offset += frame.bytes.length;
      continue;
    }
    out.writeUInt32BE(frame.length, offset);
    offset += FRAME_HEADER_BYTES;
    if (frame instanceof Uint8Array) {
      out.set(frame, offset);
      offset += frame.length;
    } else {
      for (const part of frame.parts) {
        out.set(part, offset);
        offset += part.length;
      }
    }
  }
  return out;
}

/**
 * Writes the frames in one corked burst (one writev): large parts as they are, never copied, and
 * each run of small bits between them (headers, chunk heads, small frames) copied into one buffer.
 * `done`, if given, is called once the whole burst has been written without error.
 */
export function writeFrames(socket: net.Socket, frames: Queued[], done?: (error?: Error | null) => void): void {
  // First the size of all the small bits, to copy them into one buffer.
  let small = 0;
  for (const frame of frames) {
    if (frame instanceof FramedRun) {
      if (frame.bytes.length < WRITE_AS_IS_BYTES) small += frame.bytes.length;
      continue;
    }
    small += FRAME_HEADER_BYTES;
    if (frame instanceof Uint8Array) {
      if (frame.length < WRITE_AS_IS_BYTES) small += frame.length;
    } else {
      for (const part of frame.parts) if (part.length < WRITE_AS_IS_BYTES) small += part.length;
    }
  }
  const scratch = Buffer.allocUnsafe(small);
  let at = 0;
  let runStart = 0;
  // Each write waits for the one before it: the last one's callback says the burst is out.
  let last: Uint8Array | undefined;
  const write = (bytes: Uint8Array) => {
    if (last) socket.write(last);
    last = bytes;
  };
  const flushRun = () => {
    if (at > runStart) write(scratch.subarray(runStart, at));
    runStart = at;
  };
  const put = (part: Uint8Array) => {
    if (part.length < WRITE_AS_IS_BYTES) {
      scratch.set(part, at);
      at += part.length;
    } else {
      flushRun();
      write(part);
    }
  };
  socket.cork();
  for (const frame of frames) {
    if (frame instanceof FramedRun) {
      put(frame.bytes);
      continue;
    }
    scratch.writeUInt32BE(frame.length, at);
    at += FRAME_HEADER_BYTES;
    if (frame instanceof Uint8Array) put(frame);
    else for (const part of frame.parts) put(part);
  }
  flushRun();
  if (last) socket.write(last, done);
  socket.uncork();
}

/** The `written` callbacks of the frames in `frames`, if there are any. */
export function writtenOf(frames: Queued[]): (() => void)[] | undefined {
  let written: (() => void)[] | undefined;
  for (const frame of frames) {
    if (frame instanceof Uint8Array || frame instanceof FramedRun || !frame.written) continue;
    written ??= [];
    written.push(frame.written);
  }
  return written;
}
