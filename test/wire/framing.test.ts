import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RuntableError } from '../../src/errors.ts';
import { FRAME_HEADER_BYTES, FrameReader, frameHeader } from '../../src/transport/framing.ts';

/** A frame as it travels: 4-byte big-endian length, then the payload. */
function framed(payload: Uint8Array): Buffer {
  return Buffer.concat([frameHeader(payload.length), payload]);
}

/** Payloads of assorted sizes with recognisable contents. */
function payloads(sizes: number[]): Buffer[] {
  return sizes.map((size, n) => {
    const payload = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 7 + n * 31 + 1) & 0xff;
    return payload;
  });
}

/** A frame (a plain view) as a Buffer on the same memory, to compare with Buffers. */
function asBuffer(frame: Uint8Array): Buffer {
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
}

/** Feeds `chunks` to a fresh reader and returns every frame it produced. */
function readAll(chunks: Buffer[], limit = 1 << 20): { frames: Buffer[]; reader: FrameReader } {
  const reader = new FrameReader(limit);
  const frames: Buffer[] = [];
  for (const chunk of chunks) reader.push(chunk, (frame) => frames.push(asBuffer(frame)));
  return { frames, reader };
}

function isCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  };
}

describe('FrameReader', () => {
  it('writes a 4-byte big-endian header', () => {
    assert.equal(FRAME_HEADER_BYTES, 4);
    assert.deepEqual([...frameHeader(0x01020304)], [1, 2, 3, 4]);
  });

  it('reads one frame delivered whole', () => {
    const [payload] = payloads([10]) as [Buffer];
    const { frames, reader } = readAll([framed(payload)]);
    assert.deepEqual(frames, [payload]);
    assert.equal(reader.buffered, 0);
  });

  it('reassembles frames split across two chunks at every byte boundary', () => {
    const expected = payloads([1, 5, 300, 4, 2]);
    const stream = Buffer.concat(expected.map(framed));
    for (let split = 0; split <= stream.length; split++) {
      const { frames, reader } = readAll([stream.subarray(0, split), stream.subarray(split)]);
      assert.deepEqual(frames, expected, `split at byte ${split}`);
      assert.equal(reader.buffered, 0, `split at byte ${split}`);
    }
  });

  it('reassembles frames split into three chunks at every pair of boundaries', () => {
    const expected = payloads([3, 1, 9]);
    const stream = Buffer.concat(expected.map(framed));
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const { frames } = readAll([stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)]);
        assert.deepEqual(frames, expected, `splits at ${a} and ${b}`);
      }
    }
  });

  it('reads a payload that arrives in the chunk after its complete header', () => {
    // The reader must remember the length it already read, not take the payload for a header.
    const [payload] = payloads([5]) as [Buffer];
    const reader = new FrameReader(1 << 20);
    const frames: Buffer[] = [];
    reader.push(frameHeader(5), (frame) => frames.push(asBuffer(frame)));
    assert.equal(frames.length, 0);
    reader.push(payload, (frame) => frames.push(asBuffer(frame)));
    assert.deepEqual(frames, [payload]);
    assert.equal(reader.buffered, 0);
  });

  it('reassembles frames fed one byte at a time', () => {
    const expected = payloads([1, 2, 70_000, 1]);
    const stream = Buffer.concat(expected.map(framed));
    const reader = new FrameReader(1 << 20);
    const frames: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) {
      reader.push(stream.subarray(i, i + 1), (frame) => frames.push(asBuffer(frame)));
      // A frame is delivered exactly when its last byte arrives, never earlier.
      if (i === 4) assert.equal(frames.length, 1);
      if (i === 3) assert.equal(frames.length, 0);
    }
    assert.deepEqual(frames, expected);
    assert.equal(reader.buffered, 0);
  });

  it('delivers many frames from one chunk, in order', () => {
    const sizes = Array.from({ length: 1000 }, (_, i) => 1 + ((i * 37) % 200));
    const expected = payloads(sizes);
    const { frames, reader } = readAll([Buffer.concat(expected.map(framed))]);
    assert.equal(frames.length, 1000);
    assert.deepEqual(frames, expected);
    assert.equal(reader.buffered, 0);
  });

  it('delivers whole frames at once and keeps a trailing partial frame for later', () => {
    const expected = payloads([4, 8, 16, 32]);
    const stream = Buffer.concat(expected.map(framed));
    const cut = stream.length - 10;
    const reader = new FrameReader(1 << 20);
    const frames: Buffer[] = [];
    reader.push(stream.subarray(0, cut), (frame) => frames.push(asBuffer(frame)));
    assert.deepEqual(frames, expected.slice(0, 3));
    // The last frame's header has been read; 22 of its 32 payload bytes are held.
    assert.equal(reader.buffered, 32 - 10);
    reader.push(stream.subarray(cut), (frame) => frames.push(asBuffer(frame)));
    assert.deepEqual(frames, expected);
    assert.equal(reader.buffered, 0);
  });

  it('accepts a frame of exactly the limit', () => {
    const [payload] = payloads([1000]) as [Buffer];
    const { frames } = readAll([framed(payload)], 1000);
    assert.deepEqual(frames, [payload]);
  });

  it('refuses a frame one byte over the limit with FRAME_TOO_LARGE', () => {
    const [payload] = payloads([1001]) as [Buffer];
    assert.throws(() => readAll([framed(payload)], 1000), isCode('FRAME_TOO_LARGE'));
  });

  it('refuses a 2 GiB announcement from the header alone, before allocating', () => {
    const header = frameHeader(2 ** 31);
    const reader = new FrameReader(1 << 20);
    const before = process.memoryUsage().arrayBuffers;
    let delivered = 0;
    assert.throws(
      () => reader.push(header, () => delivered++),
      (error: unknown) => {
        isCode('FRAME_TOO_LARGE')(error);
        assert.match((error as Error).message, /2147483648/);
        assert.match((error as Error).message, /1048576/);
        return true;
      },
    );
    assert.equal(delivered, 0);
    // Nothing was reserved for the announced frame.
    assert.ok(reader.buffered <= FRAME_HEADER_BYTES);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
  });

  it('refuses an oversized header that arrives in pieces', () => {
    const header = frameHeader(0xffffffff);
    const reader = new FrameReader(1 << 20);
    for (let i = 0; i < 3; i++) reader.push(header.subarray(i, i + 1), () => assert.fail('no frame expected'));
    assert.throws(() => reader.push(header.subarray(3), () => {}), isCode('FRAME_TOO_LARGE'));
  });

  it('refuses an oversized frame that follows good ones in the same chunk, after delivering them', () => {
    const good = payloads([5, 6]);
    const reader = new FrameReader(100);
    const frames: Buffer[] = [];
    const chunk = Buffer.concat([...good.map(framed), frameHeader(101)]);
    assert.throws(() => reader.push(chunk, (frame) => frames.push(asBuffer(frame))), isCode('FRAME_TOO_LARGE'));
    assert.deepEqual(frames, good);
  });

  it('refuses a zero-length frame with PROTOCOL', () => {
    assert.throws(() => readAll([frameHeader(0)]), isCode('PROTOCOL'));
  });

  it('refuses a zero-length frame after a partial chunk with PROTOCOL', () => {
    const [payload] = payloads([3]) as [Buffer];
    const stream = Buffer.concat([framed(payload), frameHeader(0)]);
    const reader = new FrameReader(1 << 20);
    const frames: Buffer[] = [];
    reader.push(stream.subarray(0, 2), (frame) => frames.push(asBuffer(frame)));
    assert.throws(() => reader.push(stream.subarray(2), (frame) => frames.push(asBuffer(frame))), isCode('PROTOCOL'));
    assert.deepEqual(frames, [payload]);
  });
});
