// Large byte strings that the envelope encoder leaves out of its block (cbor-encode.ts, bytes()):
// the copies it makes of them, reused once their message has been written, and the bytes whose
// owner keeps them unchanged until then, which go as they are.

import { Buffer } from 'node:buffer';
import type { EncodedParts } from './encoded.js';

/**
 * Copies of large byte strings (cbor-encode.ts, bytes()) that have been written are kept for the next ones,
 * up to this many bytes in all. A fresh 1 MiB buffer per call is 1 MiB of new external memory,
 * and V8 counts it against its heap limit until the next scavenge has swept it: with the read
 * buffers and the received messages, that started an incremental mark-compact every few 1 MiB
 * calls in a process whose heap is a few MiB over V8's 8 MiB threshold (docs/PERFORMANCE.md,
 * "Session 6: (c)"). Reused, the copies also skip the page faults of fresh memory.
 */
export const SPARE_COPY_BYTES = 4 * 1024 * 1024;

/**
 * Copies released, for bytes() to reuse; `spareBytes` their size in all. Held weakly: a full
 * collection (the broker's idle one, or V8's own under pressure) gives them back to the system,
 * so that a process that once sent large values does not keep SPARE_COPY_BYTES for good.
 */
interface Spare {
  buffer: WeakRef<Buffer>;
  length: number;
}
const spares: Spare[] = [];
let spareBytes = 0;

/**
 * Gives the copies of large byte strings in `encoded` back for reuse: only once nothing refers to
 * its parts any more (a transport calls it when they have been written). Never twice.
 */
export function releaseCopies(encoded: EncodedParts): void {
  const copies = encoded.copies;
  encoded.copies = undefined;
  if (!copies) return;
  for (const copy of copies) {
    if (spareBytes + copy.length > SPARE_COPY_BYTES) {
      // Room may be held by spares already collected.
      for (let i = spares.length - 1; i >= 0; i--) {
        if ((spares[i] as Spare).buffer.deref()) continue;
        spareBytes -= (spares[i] as Spare).length;
        spares[i] = spares[spares.length - 1] as Spare;
        spares.pop();
      }
      if (spareBytes + copy.length > SPARE_COPY_BYTES) return;
    }
    spares.push({ buffer: new WeakRef(copy), length: copy.length });
    spareBytes += copy.length;
  }
}

/** A buffer for a copy of `length` bytes: a released one between that and twice as large, or a new one. */
export function copyBuffer(length: number): Buffer {
  for (let i = 0; i < spares.length; i++) {
    const spare = spares[i] as Spare;
    const buffer = spare.buffer.deref();
    if (buffer && (spare.length < length || spare.length > 2 * length)) continue;
    // Taken, or collected: out of the list either way.
    spares[i] = spares[spares.length - 1] as Spare;
    spares.pop();
    spareBytes -= spare.length;
    if (buffer) return buffer;
    i--;
  }
  return Buffer.allocUnsafeSlow(length);
}

/** Large byte strings whose owner keeps them unchanged until their message has left (see sendUncopied). */
const uncopied = new WeakSet<Uint8Array>();

/**
 * Marks `bytes` to be sent as they are, not copied, when an envelope leaves them out of its block
 * (SPLIT_BYTES and more): their owner (the broker's List batches) changes them only once the
 * message has been written. Returns `bytes`.
 */
export function sendUncopied<T extends Uint8Array>(bytes: T): T {
  uncopied.add(bytes);
  return bytes;
}

/** Whether `bytes` were marked with sendUncopied. */
export function isUncopied(bytes: Uint8Array): boolean {
  return uncopied.has(bytes);
}
