// runtable's encoder must write exactly what cbor-x writes with runtable's options: the golden
// vectors rest on it. Every value here is encoded both ways and the bytes compared.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Encoder, Tag } from 'cbor-x';
import { EncodedParts, encodeCbor, encodeReplyEnvelope } from '../../src/wire/cbor-encode.ts';
import { releaseCopies, SPARE_COPY_BYTES } from '../../src/wire/large-bytes.ts';

const cbor = new Encoder({ useRecords: false, mapsAsObjects: true });

const numbers = [
  0,
  1,
  23,
  24,
  255,
  256,
  65535,
  65536,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 - 1,
  -1,
  -24,
  -25,
  -256,
  -257,
  -65536,
  -65537,
  -(2 ** 31),
  -(2 ** 31) - 1,
  -(2 ** 32),
  -(2 ** 32) - 1,
  0.5,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  1e300,
  -1.5,
];
const strings = [
  '',
  'a',
  'x'.repeat(23),
  'x'.repeat(24),
  'x'.repeat(63),
  'x'.repeat(64),
  'x'.repeat(255),
  'x'.repeat(256),
  'é'.repeat(20),
  'é'.repeat(40),
  '€'.repeat(30),
  '€'.repeat(100),
  '€'.repeat(30_000),
  '😀'.repeat(10),
  '😀'.repeat(50),
  '\ud800 lone',
  `${'\ud800'.repeat(30)}`,
  'x'.repeat(70_000),
];
const bytes = [0, 1, 23, 24, 255, 256, 65535, 65536, 1 << 20].map((n) => Buffer.alloc(n, 7));

function same(value: unknown, what: string): void {
  const expected = Buffer.from(cbor.encode(value)).toString('hex');
  assert.equal(Buffer.from(encodeCbor(value)).toString('hex'), expected, what);
}

describe('the CBOR encoder against cbor-x', () => {
  it('writes numbers, strings, booleans, null and undefined as cbor-x does', () => {
    for (const n of numbers) same(n, `number ${n}`);
    for (const s of strings) same(s, `string of ${s.length} chars starting ${JSON.stringify(s.slice(0, 4))}`);
    for (const v of [true, false, null, undefined]) same(v, String(v));
  });

  it('writes Buffers, Uint8Arrays and the types it hands to cbor-x as cbor-x does', () => {
    for (const b of bytes) same(b, `Buffer of ${b.length}`);
    same(new Uint8Array([1, 2, 3]), 'Uint8Array');
    same(new Uint16Array([1, 2, 3]), 'Uint16Array');
    same(
      new Map<unknown, unknown>([
        [1, 'a'],
        ['b', [2]],
      ]),
      'Map',
    );
    same(new Set([1, 'x']), 'Set');
    same(new Date(1_700_000_000_123), 'Date');
    same(12n ** 40n, 'bigint');
    same(new Tag({ name: 'Error', message: 'm' }, 21108), 'Tag');
  });

  it('writes objects and arrays, nested, in key order, with a 16-bit map count', () => {
    same({}, 'empty object');
    same([], 'empty array');
    same(new Array(30).fill(1), 'array of 30');
    same(new Array(300).fill('a'), 'array of 300');
    same({ kind: 30, target: 1, method: 'echo', args: [Buffer.alloc(64, 1)], id: 7 }, 'a Call');
    same({ kind: 40, id: 1, value: { a: [1, { b: null, c: [true, 'x'] }], d: new Map([[1, 2]]) } }, 'nested');
    const many: Record<string, number> = {};
    for (let i = 0; i < 70_000; i++) many[`k${i}`] = i;
    same(many, 'an object of 70,000 keys');
    const inherited = Object.create({ up: 1 }) as Record<string, unknown>;
    inherited.own = 2;
    same({ inherited }, 'an object with an inherited key');
    same({ ['__proto__']: 1, constructor: 2 }, 'an object with tricky keys');
  });

  it('keeps each message it handed out intact while it writes the next ones', () => {
    const first = encodeCbor({ a: 'x'.repeat(100) });
    const copy = Buffer.from(first);
    for (let i = 0; i < 2000; i++) encodeCbor({ i, pad: 'y'.repeat(i % 300) });
    encodeCbor(Buffer.alloc(200_000));
    assert.deepEqual(Buffer.from(first), copy);
  });
});

describe('the copies of large byte strings', () => {
  /** A Reply of `bytes`, in parts: its copy of them, the part between the envelope's bits. */
  const reply = (bytes: Buffer) => {
    const encoded = encodeReplyEnvelope(40, 1, bytes);
    assert.ok(encoded instanceof EncodedParts);
    return { encoded, copy: encoded.parts[1] as Uint8Array };
  };

  it('are taken again only once given back, and never more than SPARE_COPY_BYTES of them kept', () => {
    const first = reply(Buffer.alloc(100_000, 1));
    const second = reply(Buffer.alloc(100_000, 2));
    assert.notEqual(first.copy.buffer, second.copy.buffer, 'not reused while the first is unsent');
    assert.equal(first.copy[0], 1);
    releaseCopies(first.encoded);
    releaseCopies(first.encoded);
    // Given back (twice, counted once): the next copy of about that size is made in it.
    const third = reply(Buffer.alloc(90_000, 3));
    assert.equal(third.copy.buffer, first.copy.buffer);
    assert.equal(third.copy.length, 90_000, 'a view of exactly its size');
    const fourth = reply(Buffer.alloc(90_000, 4));
    assert.notEqual(fourth.copy.buffer, first.copy.buffer, 'given back once, taken once');
    // Much smaller ones do not take a large spare; no more than the cap is kept.
    releaseCopies(third.encoded);
    assert.notEqual(reply(Buffer.alloc(20_000, 5)).copy.buffer, first.copy.buffer);
    const big = [reply(Buffer.alloc(SPARE_COPY_BYTES / 2, 6)), reply(Buffer.alloc(SPARE_COPY_BYTES / 2, 7))];
    for (const { encoded } of big) releaseCopies(encoded);
    const again = [reply(Buffer.alloc(SPARE_COPY_BYTES / 2, 8)), reply(Buffer.alloc(SPARE_COPY_BYTES / 2, 9))];
    const reused = again.filter(({ copy }) => big.some((b) => b.copy.buffer === copy.buffer)).length;
    assert.equal(reused, 1, 'the second did not fit beside the spares already kept');
  });

  it('are held weakly once given back: a full collection frees them', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const first = reply(Buffer.alloc(300_000, 1));
    const given = new WeakRef(first.copy.buffer);
    releaseCopies(first.encoded);
    first.encoded.parts.length = 0;
    first.copy = new Uint8Array(0);
    // A WeakRef keeps its target for the rest of the job that made or read it.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.equal(given.deref(), undefined, 'collected');
    assert.equal(reply(Buffer.alloc(300_000, 2)).copy[0], 2, 'and a fresh one made in its place');
  });
});
