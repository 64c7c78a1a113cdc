import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHUNK_BYTES, ChunkSender, encodeChunk } from '../../src/wire/chunks.ts';
import { decode } from '../../src/wire/codec.ts';
import { type Chunk, Kind } from '../../src/wire/protocol.ts';
import { toMessage } from '../../src/wire/validate.ts';

/** As the receiver sees it: the two parts are one frame. */
const received = (chunk: Chunk) => toMessage(decode(Buffer.concat(encodeChunk(chunk))));

describe('chunks', () => {
  it('encode in two parts that decode as the chunk, at every byte-string header size', () => {
    for (const length of [1, 23, 24, 255, 256, 65_535, 65_536]) {
      const data = Buffer.alloc(length, length % 251);
      const chunk: Chunk = { kind: Kind.Chunk, transfer: 3, offset: 0, total: 70_000, request: 9, data };
      const [, body] = encodeChunk(chunk);
      assert.equal(body, data, 'the data is sent as it is, not copied');
      assert.deepStrictEqual(received(chunk), chunk);
    }
  });

  it('a sender cuts a large message into chunks that put it back together, request id on each', () => {
    const message = Buffer.alloc(CHUNK_BYTES * 2 + 10);
    for (let i = 0; i < message.length; i++) message[i] = i % 253;
    const sender = new ChunkSender(() => {});
    sender.add(message, { request: 5 });
    const parts: Buffer[] = [];
    for (let next = sender.next(); next; next = sender.next()) {
      assert.ok(!(next instanceof Uint8Array));
      const chunk = toMessage(decode(Buffer.concat(next))) as Chunk;
      assert.equal(chunk.request, 5);
      assert.equal(
        chunk.offset,
        parts.reduce((n, p) => n + p.length, 0),
      );
      parts.push(Buffer.from(chunk.data));
    }
    assert.deepStrictEqual(Buffer.concat(parts), message);
  });
});
