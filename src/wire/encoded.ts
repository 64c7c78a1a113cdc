// What an envelope encoder hands out (cbor-encode.ts): one view of its block, or, when a large
// byte string was left out of the block, the message's parts, to be written back to back.

import { Buffer } from 'node:buffer';

/**
 * A message encoded as several parts, to be sent back to back as one message: views into the
 * block and, between them, large byte strings as the caller gave them. Never joined on the way out.
 */
export class EncodedParts {
  readonly parts: Uint8Array[];
  /** Bytes of all parts together: the message's encoded size. */
  readonly length: number;
  /** The copies of large byte strings among the parts, until released (releaseCopies()). */
  copies: Buffer[] | undefined;

  constructor(parts: Uint8Array[], length: number, copies?: Buffer[]) {
    this.parts = parts;
    this.length = length;
    this.copies = copies;
  }
}

/** What the envelope encoders give: one view, or parts when a large byte string was left out. */
export type Encoded = Uint8Array | EncodedParts;

/** The message's bytes in one piece: copied together if it is in parts. */
export function joined(encoded: Encoded): Uint8Array {
  return encoded instanceof EncodedParts ? Buffer.concat(encoded.parts, encoded.length) : encoded;
}
