// Calls and replies that the encoder writes as frames, straight into its block, and that the Unix
// transport writes as they lie (Transport.sendFramed): the same bytes as encode() behind a length,
// in order with frames sent the other ways, intact when runs of them are cut by other messages,
// and the size limits and chunking as before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RuntableError } from 'runtable';
import { FRAME_HEADER_BYTES } from '../../src/transport/framing.ts';
import type { Transport } from '../../src/transport/transport.ts';
import { framedAt, framedMessage, framedStart } from '../../src/wire/cbor-encode.ts';
import { CHUNK_BYTES } from '../../src/wire/chunks.ts';
import { encode, encodeCall, encodeReply } from '../../src/wire/codec.ts';
import { Connection } from '../../src/wire/connection.ts';
import { DEFAULT_LIMITS } from '../../src/wire/limits.ts';
import { type Call, Kind } from '../../src/wire/protocol.ts';
import { socketPairsPerTest } from './socket-pair.ts';

const MAX_FRAME = 1 << 20;

const pairs = socketPairsPerTest(MAX_FRAME);

const unixPair = () => pairs.open('unix');

function collect(transport: Transport, count: number): Promise<Buffer[]> {
  const frames: Buffer[] = [];
  return new Promise((resolve) => {
    transport.onFrame = (frame) => {
      frames.push(Buffer.from(frame));
      if (frames.length === count) resolve(frames);
    };
  });
}

/** A Reply encoded as a frame: the frame's bytes (a copy) and the message encode() writes. */
function framedReply(id: number, value: unknown): { length: number; memory: ArrayBufferLike; offset: number } {
  const length = encodeReply(id, value, undefined, true);
  assert.equal(typeof length, 'number', 'a small reply comes as a frame');
  return { length: length as number, memory: framedAt(), offset: framedStart() };
}

describe('frames written by the encoder', () => {
  it('are the bytes encode() writes, behind their length', () => {
    for (const [id, value] of [
      [1, 'x'],
      [70_000, { a: [1, 2, 3], b: Buffer.from('abc') }],
      [0x7fffffff, [null, true, -1.5]],
    ] as const) {
      const frame = framedReply(id, value);
      const bytes = Buffer.from(frame.memory, frame.offset, frame.length);
      const plain = Buffer.from(encode({ kind: Kind.Reply, id, value }));
      assert.equal(bytes.readUInt32BE(0), plain.length);
      assert.ok(bytes.subarray(FRAME_HEADER_BYTES).equals(plain), `reply ${id}`);
      assert.ok(Buffer.from(framedMessage(frame.length)).equals(plain));
    }
    const call = { kind: Kind.Call, target: 3, method: 'add', args: [1, 'two'] as unknown[] } as const;
    const length = encodeCall(call, 99_999, undefined, true) as number;
    const bytes = Buffer.from(framedAt(), framedStart(), length);
    const plain = Buffer.from(encode({ ...call, id: 99_999 }));
    assert.ok(bytes.subarray(FRAME_HEADER_BYTES).equals(plain));
  });

  it('arrive in order and intact over a Unix socket, with frames sent the other ways between them', async () => {
    const [a, b] = await unixPair();
    assert.equal(typeof a.sendFramed, 'function');
    const expected: Buffer[] = [];
    const framed = (id: number) => {
      const frame = framedReply(id, `value ${id}`);
      expected.push(Buffer.from(encode({ kind: Kind.Reply, id, value: `value ${id}` })));
      a.sendFramed?.(frame.memory, frame.offset, frame.length);
    };
    const plain = (id: number) => {
      const bytes = encode({ kind: Kind.Failure, id, error: { code: 'TIMEOUT', message: `m${id}` } });
      expected.push(Buffer.from(bytes));
      a.send(bytes);
    };
    const received = collect(b, 12);
    // A run of three, a plain frame, a run cut by a message encoded for elsewhere (a gap in the
    // block), frames in parts, and a run left open at the end of the tick.
    framed(1);
    framed(2);
    framed(3);
    plain(4);
    framed(5);
    encode({ elsewhere: true });
    framed(6);
    const parts = [Buffer.from([0xa0])];
    expected.push(Buffer.from([0xa0]));
    a.sendParts(parts);
    framed(7);
    framed(8);
    await new Promise((resolve) => setImmediate(resolve));
    framed(9);
    plain(10);
    framed(11);
    framed(12);
    const frames = await received;
    assert.equal(frames.length, expected.length);
    for (let i = 0; i < expected.length; i++) assert.ok(frames[i]?.equals(expected[i] as Buffer), `frame ${i}`);
    a.close();
    b.close();
  });

  it('carry pipelined calls, a message past a chunk, and the send limit as before', async () => {
    const [a, b] = await unixPair();
    const options = { goneCode: 'OBJECT_GONE' as const, peerName: 'peer', timeout: 10_000, token: 'token' };
    const owner = Connection.accept(b, { ...options, limits: DEFAULT_LIMITS }, (connection) => ({
      onMessage(message) {
        if (message.kind !== Kind.Call) return;
        if (message.method === 'fail') connection.replyError(message.id, { code: 'BAD_ARGUMENT', message: 'no' });
        else connection.reply(message.id, message.args[0]);
      },
      onClose() {},
    }));
    const limits = { ...DEFAULT_LIMITS, maxMessageBytes: 4 * CHUNK_BYTES };
    const client = await Connection.connect(a, { ...options, limits });
    await owner;
    const call = (method: string, value: unknown) =>
      client.request<Call>({ kind: Kind.Call, target: 1, method, args: [value] });
    const values = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? `s${i}` : { i, b: Buffer.from([i & 0xff]) }));
    const answers = await Promise.allSettled(values.map((v, i) => call(i % 50 === 7 ? 'fail' : 'echo', v)));
    answers.forEach((answer, i) => {
      if (i % 50 === 7) {
        assert.equal(answer.status, 'rejected');
        assert.equal(((answer as PromiseRejectedResult).reason as RuntableError).code, 'BAD_ARGUMENT');
      } else assert.deepEqual((answer as PromiseFulfilledResult<unknown>).value, values[i]);
    });
    // Past a chunk but of small items (never split): it goes in chunks, from the frame's message.
    const many = Array.from({ length: (2 * CHUNK_BYTES) / 8 }, (_, i) => `k${i}`);
    assert.deepEqual(await call('echo', many), many);
    const tooMany = Array.from({ length: 5 * CHUNK_BYTES }, (_, i) => i % 10);
    await assert.rejects(call('echo', tooMany), (error: RuntableError) => error.code === 'FRAME_TOO_LARGE');
    assert.equal(await call('echo', 'after'), 'after');
    client.close();
  });
});
