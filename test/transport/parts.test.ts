// Frames of several parts and large binary over real sockets (Unix, TCP, TLS): what the sender
// sends from the caller's memory arrives intact, a chunk read from the socket's own reads is put
// back together right, a received large byte string is not changed by the frames after it, and
// the message limits still hold.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { RuntableError } from 'runtable';
import type { Transport } from '../../src/transport/transport.ts';
import { EncodedParts, joined, SPLIT_BYTES } from '../../src/wire/cbor-encode.ts';
import { chunkInParts } from '../../src/wire/chunk-assembler.ts';
import { CHUNK_BYTES } from '../../src/wire/chunks.ts';
import { decode, encode, encodeReply } from '../../src/wire/codec.ts';
import { Connection } from '../../src/wire/connection.ts';
import { DEFAULT_LIMITS } from '../../src/wire/limits.ts';
import { type Call, Kind } from '../../src/wire/protocol.ts';
import { toMessage } from '../../src/wire/validate.ts';
import { makeCertificates, type Pem } from '../tls-certs.ts';
import { type SocketKind, socketPairsPerTest } from './socket-pair.ts';

const MAX_FRAME = 1 << 20;

let pem: Pem;

before(() => {
  pem = makeCertificates('parts-test');
});

const pairs = socketPairsPerTest(MAX_FRAME, () => pem);

/** Bytes that differ at every position, from `seed`. */
function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed + (i >> 8)) & 0xff;
  return bytes;
}

type Kind3 = SocketKind;
const KINDS: Kind3[] = ['unix', 'tcp', 'tls'];

/** A transport pair over a real socket of `kind`: [the connecting side, the accepted side]. */
const socketPair = pairs.open;

/** Collects `count` frames, those that came in parts joined, noting how many did. */
function collect(
  transport: Transport,
  count: number,
  withParts: boolean,
): Promise<{ frames: Buffer[]; inParts: number }> {
  const frames: Buffer[] = [];
  let inParts = 0;
  return new Promise((resolve) => {
    const take = (frame: Buffer) => {
      frames.push(frame);
      if (frames.length === count) resolve({ frames, inParts });
    };
    transport.onFrame = (frame) => take(Buffer.from(frame));
    if (withParts) {
      transport.onFrameParts = (parts, length) => {
        inParts++;
        assert.equal(
          parts.reduce((n, p) => n + p.length, 0),
          length,
        );
        take(Buffer.concat(parts, length));
      };
    }
  });
}

for (const kind of KINDS) {
  describe(`frames of several parts over ${kind}`, () => {
    it('arrive intact, in order with whole frames, in small batches and in large ones', async () => {
      const [a, b] = await socketPair(kind);
      // A small batch (joined into one write), then a large one (parts written as they are).
      const small = [pattern(10, 1), [pattern(3, 2), pattern(5, 3), pattern(1, 4)], pattern(100, 5)] as const;
      const big = [
        [pattern(40, 6), pattern(CHUNK_BYTES, 7), pattern(9, 8)],
        pattern(20, 9),
        [pattern(3000, 10), pattern(200_000, 11)],
        [pattern(1, 12), pattern(MAX_FRAME - 1, 13)],
        pattern(5000, 14),
      ] as const;
      const all = [...small, ...big];
      const expected = all.map((f) => (f instanceof Uint8Array ? f : Buffer.concat(f)));
      for (const withParts of [false, true]) {
        const received = collect(b, all.length, withParts);
        for (const frame of small) frame instanceof Uint8Array ? a.send(frame) : a.sendParts(frame);
        await new Promise((resolve) => setImmediate(resolve));
        for (const frame of big) frame instanceof Uint8Array ? a.send(frame) : a.sendParts(frame);
        const { frames, inParts } = await received;
        assert.equal(frames.length, expected.length);
        for (let i = 0; i < expected.length; i++) assert.ok(frames[i]?.equals(expected[i] as Buffer), `frame ${i}`);
        if (withParts) assert.ok(inParts > 0, 'the large frames came over several reads, as parts');
        else assert.equal(inParts, 0);
      }
      a.close();
      b.close();
    });
  });
}

/** A connection pair over `kind` whose accepting side echoes every Call's first argument. */
async function echoPair(
  kind: Kind3,
  limits = DEFAULT_LIMITS,
  ownerLimits = DEFAULT_LIMITS,
): Promise<{ client: Connection; served: Uint8Array[] }> {
  const [a, b] = await socketPair(kind);
  const options = { goneCode: 'OBJECT_GONE' as const, peerName: 'peer', timeout: 10_000, token: 'token' };
  const served: Uint8Array[] = [];
  const owner = Connection.accept(b, { ...options, limits: ownerLimits }, (connection) => ({
    onMessage(message) {
      if (message.kind !== Kind.Call) return;
      served.push(message.args[0] as Uint8Array);
      connection.reply(message.id, message.args[0]);
    },
    onClose() {},
  }));
  const client = await Connection.connect(a, { ...options, limits });
  await owner;
  return { client, served };
}

function call(client: Connection, value: unknown): Promise<unknown> {
  return client.request<Call>({ kind: Kind.Call, target: 1, method: 'echo', args: [value] });
}

for (const kind of KINDS) {
  describe(`large binary over ${kind}`, () => {
    it('is echoed intact at the sizes around the split and chunk thresholds, and up to 3 MiB', async () => {
      const { client } = await echoPair(kind);
      const sizes = [SPLIT_BYTES - 1, SPLIT_BYTES, CHUNK_BYTES - 30, CHUNK_BYTES, CHUNK_BYTES + 1, 1 << 20, 3 << 20];
      const results = await Promise.all(sizes.map((size, i) => call(client, pattern(size, i))));
      for (const [i, size] of sizes.entries()) {
        const got = results[i] as Buffer;
        assert.ok(Buffer.isBuffer(got) && got.equals(pattern(size, i)), `${size} bytes`);
      }
      // Inside a map and an array beside other values: the map's count is written after them.
      const nested = { before: 'x', data: pattern(200_000, 40), list: [1, pattern(SPLIT_BYTES, 41), 'y'], after: 2 };
      assert.deepStrictEqual(await call(client, nested), nested);
      client.close();
    });

    it('received, stays as it was while later frames arrive, and pins no more than its message', async () => {
      const { client, served } = await echoPair(kind);
      const first = (await call(client, pattern(1 << 20, 1))) as Buffer;
      const small = (await call(client, pattern(100, 2))) as Buffer;
      for (let i = 0; i < 20; i++) {
        const again = (await call(client, pattern(i % 2 ? 300_000 : 100, 10 + i))) as Buffer;
        assert.ok(again.equals(pattern(i % 2 ? 300_000 : 100, 10 + i)));
      }
      assert.ok(first.equals(pattern(1 << 20, 1)), 'the first reply is unchanged by the later ones');
      assert.ok(small.equals(pattern(100, 2)));
      assert.ok((served[0] as Buffer).equals(pattern(1 << 20, 1)), 'and so is what the owner received');
      // A large value is a view of its reassembled message alone, not of a larger buffer.
      assert.ok(first.buffer.byteLength < first.length + 64, `held ${first.buffer.byteLength} bytes`);
      client.close();
    });

    it('is taken when the call is made: the caller may change its buffer at once', async () => {
      const { client, served } = await echoPair(kind);
      // One scratch buffer, filled anew for each call without waiting: every call must carry
      // what the buffer held when it was made, although its frames leave the socket later.
      const scratch = Buffer.alloc(1 << 20);
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 4; i++) {
        pattern(1 << 20, 50 + i).copy(scratch);
        calls.push(call(client, scratch));
      }
      scratch.fill(0);
      const results = await Promise.all(calls);
      for (let i = 0; i < 4; i++) {
        assert.ok((results[i] as Buffer).equals(pattern(1 << 20, 50 + i)), `call ${i} came back as it was made`);
        assert.ok((served[i] as Buffer).equals(pattern(1 << 20, 50 + i)), `call ${i} arrived as it was made`);
      }
      client.close();
    });

    it('reuses the copies of large values only once written: calls kept in flight come back intact', async () => {
      const { client, served } = await echoPair(kind);
      // Four calls in flight at a time, each new one made as one comes back, so that copies given
      // back (on both sides) are taken again while other transfers are still being written.
      const sizes = [300_000, 40_000, 1 << 20, SPLIT_BYTES, 150_000];
      const expected = Array.from({ length: 40 }, (_, i) => pattern(sizes[i % sizes.length] as number, 100 + i));
      let made = 0;
      const lane = async () => {
        while (made < expected.length) {
          const i = made++;
          const got = (await call(client, Buffer.from(expected[i] as Buffer))) as Buffer;
          assert.ok(got.equals(expected[i] as Buffer), `call ${i} came back as it was made`);
        }
      };
      await Promise.all([lane(), lane(), lane(), lane()]);
      // What the owner received, in the order its transfers ended: each one a call as it was made.
      assert.equal(served.length, expected.length);
      for (const value of served)
        assert.ok(
          expected.some((bytes) => bytes.equals(value)),
          'arrived as it was made',
        );
      client.close();
    });

    it('still meets the limits: the sender refuses past its own, the receiver past its own', async () => {
      const limits = { ...DEFAULT_LIMITS, maxMessageBytes: 200_000 };
      const strict = await echoPair(kind, limits);
      await assert.rejects(call(strict.client, pattern(300_000, 1)), (error: RuntableError) => {
        assert.equal(error.code, 'FRAME_TOO_LARGE');
        return true;
      });
      assert.ok(((await call(strict.client, pattern(150_000, 2))) as Buffer).equals(pattern(150_000, 2)));
      strict.client.close();
      await pairs.closeListener();
      // The owner takes at most 200,000 bytes: the call is refused there, the connection lives on.
      const owner = await echoPair(kind, DEFAULT_LIMITS, limits);
      await assert.rejects(call(owner.client, pattern(300_000, 3)), (error: RuntableError) => {
        assert.equal(error.code, 'FRAME_TOO_LARGE');
        return true;
      });
      assert.equal(owner.served.length, 0);
      assert.ok(((await call(owner.client, pattern(150_000, 4))) as Buffer).equals(pattern(150_000, 4)));
      owner.client.close();
    });
  });
}

describe('a chunk in parts', () => {
  const chunkFrame = (fields: Record<string, unknown>, data: Buffer) => Buffer.from(encode({ ...fields, data }));

  it('reads as the general decoder and validation read it, wherever the frame is cut', () => {
    const data = pattern(3000, 5);
    const forms = [
      { kind: Kind.Chunk, transfer: 1, offset: 0, total: 70_000 },
      { kind: Kind.Chunk, transfer: 70_000, offset: 65_536, total: 2 ** 32 - 1, request: 9 },
      { kind: Kind.Chunk, transfer: 24, offset: 23, total: 256, reply: 300 },
      { kind: Kind.Chunk, transfer: 2, offset: 255, total: 65_535, request: 1, reply: 2 },
    ];
    for (const fields of forms) {
      const frame = chunkFrame(fields, data);
      const general = toMessage(decode(frame)) as unknown as Record<string, unknown>;
      for (const cut of [1, 2, 5, 10, 20, 40, frame.length - 3000, frame.length - 1]) {
        const parts = [frame.subarray(0, cut), frame.subarray(cut)];
        const chunk = chunkInParts(parts, frame.length);
        assert.ok(chunk, `${JSON.stringify(fields)} cut at ${cut}`);
        const { parts: _, dataStart, dataLength, ...rest } = chunk;
        assert.deepStrictEqual({ ...rest, data: frame.subarray(dataStart, dataStart + dataLength) }, general);
      }
    }
  });

  it('is left to the general way when written otherwise, or when it is not a chunk', () => {
    const data = pattern(100, 1);
    const other = [
      Buffer.from(encode({ transfer: 1, kind: Kind.Chunk, offset: 0, total: 9000, data })),
      Buffer.from(encode({ kind: Kind.Chunk, transfer: 1, offset: 0, total: 9000, data, extra: 1 })),
      Buffer.from(encode({ kind: Kind.Chunk, transfer: 1.5, offset: 0, total: 9000, data })),
      Buffer.from(encode({ kind: Kind.Chunk, transfer: 2 ** 40, offset: 0, total: 9000, data })),
      Buffer.from(encode({ kind: Kind.Call, transfer: 1, offset: 0, total: 9000, data })),
      Buffer.from(encode({ kind: Kind.Chunk, transfer: 1, offset: 0, total: 9000, data: 'text' })),
    ];
    for (const frame of other)
      assert.equal(chunkInParts([frame.subarray(0, 7), frame.subarray(7)], frame.length), undefined);
    // Data that does not fill the frame exactly.
    const frame = chunkFrame({ kind: Kind.Chunk, transfer: 1, offset: 0, total: 9000 }, data);
    assert.equal(chunkInParts([frame], frame.length + 1), undefined);
    assert.equal(chunkInParts([frame.subarray(0, frame.length - 1)], frame.length - 1), undefined);
  });
});

describe('a Reply or Call in parts', () => {
  it('joins to the bytes encode() writes, a large byte string left out of the block each time', () => {
    const wide: Record<string, unknown> = {};
    for (let i = 0; i < 70_000; i++) wide[`k${i}`] = i === 5 ? pattern(SPLIT_BYTES, 1) : i;
    const values = [
      pattern(SPLIT_BYTES, 2),
      [pattern(SPLIT_BYTES + 1, 3), 'x', new Uint8Array(pattern(CHUNK_BYTES, 4))],
      { a: { b: pattern(100_000, 5), c: [pattern(SPLIT_BYTES, 6)] }, d: 'end' },
      // Over 65,535 keys the map is written again by cbor-x, from before its large byte string.
      wide,
    ];
    for (const value of values) {
      const encoded = encodeReply(7, value);
      assert.ok(encoded instanceof EncodedParts, 'sent in parts');
      assert.ok(
        encoded.parts.some((part) => part.length >= SPLIT_BYTES) || value === wide,
        'the large byte string is a part of its own',
      );
      assert.deepEqual(joined(encoded), Buffer.from(encode({ kind: Kind.Reply, id: 7, value })));
    }
    assert.ok(encodeReply(7, pattern(SPLIT_BYTES - 1, 1)) instanceof Uint8Array, 'smaller ones are copied in');
  });
});
