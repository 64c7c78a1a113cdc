import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkAssembler } from '../../src/wire/chunk-assembler.ts';
import { CHUNK_BYTES, ChunkSender, encodeChunk } from '../../src/wire/chunks.ts';
import { decode } from '../../src/wire/codec.ts';
import { type Chunk, Kind } from '../../src/wire/protocol.ts';
import { toMessage } from '../../src/wire/validate.ts';
import { waitFor } from '../helpers.ts';

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
  it('a sender says which transfer still carries a request, until its last chunk is handed out', () => {
    const sender = new ChunkSender(() => {});
    const first = sender.add(Buffer.alloc(CHUNK_BYTES * 2 + 1), { request: 5 });
    const second = sender.add(Buffer.alloc(CHUNK_BYTES + 1), { request: 6 });
    sender.add(Buffer.alloc(CHUNK_BYTES + 1), { reply: 5 });
    assert.equal(sender.carrying(5), first);
    assert.equal(sender.carrying(6), second);
    assert.equal(sender.carrying(7), undefined);
    const handedOut = (request: number) => {
      while (sender.carrying(request) !== undefined) assert.ok(sender.next(), 'chunks left');
    };
    handedOut(6);
    assert.equal(sender.carrying(5), first, 'the longer transfer goes on');
    handedOut(5);
    assert.equal(sender.carrying(5), undefined);
  });

  /** The chunks of `message` as transfer `transfer` sends them, decoded. */
  const chunksOf = (message: Uint8Array, request: number): Chunk[] => {
    const sender = new ChunkSender(() => {});
    sender.add(message, { request });
    const chunks: Chunk[] = [];
    for (let next = sender.next(); next; next = sender.next()) {
      const chunk = toMessage(decode(Buffer.concat(next as Uint8Array[]))) as Chunk;
      chunks.push({ ...chunk, transfer: request });
    }
    return chunks;
  };

  it('an assembler keeps many transfers apart, finished in any order', () => {
    const assembler = new ChunkAssembler(1 << 30, 60_000, () => {});
    const messages = [1, 2, 3, 4, 5].map((n) => Buffer.alloc(CHUNK_BYTES * n + n, n));
    const pending = messages.map((message, i) => chunksOf(message, i + 1));
    const done: number[] = [];
    // Round-robin, so that the shorter ones finish first and leave from the middle of the set.
    for (let round = 0; done.length < messages.length; round++) {
      for (let i = 0; i < pending.length; i++) {
        const chunk = pending[i]?.[round];
        if (!chunk) continue;
        const whole = assembler.add(chunk);
        if (whole) {
          assert.deepStrictEqual(Buffer.from(whole), messages[i]);
          done.push(i + 1);
        }
      }
    }
    assert.deepEqual(done, [1, 2, 3, 4, 5]);
    assert.equal(assembler.bufferedBytes, 0);
    assert.throws(() => assembler.add((pending[0] as Chunk[])[1] as Chunk), /never began/);
    assembler.clear();
  });

  it('an assembler drops only the transfer that stalled, and watches the others on', async () => {
    const stalled: number[] = [];
    const assembler = new ChunkAssembler(1 << 30, 150, (transfer) => stalled.push(transfer));
    const quiet = chunksOf(Buffer.alloc(CHUNK_BYTES * 2), 1);
    const busy = chunksOf(Buffer.alloc(CHUNK_BYTES * 100), 2);
    assembler.add(quiet[0] as Chunk);
    // The busy one goes on sending, a chunk every 10 ms, until the quiet one has stalled.
    let sent = 0;
    while (stalled.length === 0) {
      assert.ok(sent < busy.length - 1, 'the quiet transfer stalled while the busy one sent');
      assembler.add(busy[sent++] as Chunk);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(stalled, [1]);
    assert.equal(assembler.bufferedBytes, CHUNK_BYTES * 100, 'the busy one is still held');
    await waitFor(() => stalled.length === 2, 3_000, 'the busy transfer to stall once it stops');
    assert.deepEqual(stalled, [1, 2]);
    assert.equal(assembler.bufferedBytes, 0);
  });
});
