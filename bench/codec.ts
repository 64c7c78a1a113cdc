// cbor-x against msgpackr, both with useRecords: false, and runtable's codec built on cbor-x, on
// runtable's own message shapes: encode,
// decode and round-trip rates (1 s of timing each, after a warm-up; the median of five 200 ms
// samples, so that a burst of load from other processes moves the figure less) and encoded sizes.
// Run: npm run bench:codec; prints a markdown table.

import os from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import { Encoder } from 'cbor-x';
import { Packr } from 'msgpackr';
import { decode as runtableDecode, encode as runtableEncode } from '../src/wire/codec.ts';

const WARMUP_NS = 200_000_000n;
const SAMPLE_NS = 200_000_000n;
const SAMPLES = 5;
/** Batches grow until one takes this long, so reading the clock costs next to nothing. */
const BATCH_NS = 10_000_000n;

interface Codec {
  name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

const cbor = new Encoder({ useRecords: false });
const packr = new Packr({ useRecords: false });
const codecs: Codec[] = [
  { name: 'cbor-x', encode: (v) => cbor.encode(v), decode: (b) => cbor.decode(b) },
  { name: 'msgpackr', encode: (v) => packr.pack(v), decode: (b) => packr.unpack(b) },
  // runtable's own codec: the value walk over cbor-x's encoder, and its own decoder.
  { name: 'runtable', encode: (v) => runtableEncode(v), decode: (b) => runtableDecode(b) },
];

// The shapes of src/wire/protocol.ts, with values of a plausible size.
const payload = 'hello from SourceApp, 64 bytes of payload for sendData: 01234567'; // 64 bytes
const endpoint = '/run/user/1000/runtable/o48213-1.sock';
const now = new Date();

function wireEntry(i: number) {
  return {
    moniker: `SampleServer/instance-${i}`,
    pid: 48213 + i,
    endpoint: `/run/user/1000/runtable/o${48213 + i}-1.sock`,
    object: 1,
    methods: ['getStatus', 'sendData'],
    metadata: { title: `Sample server ${i}`, port: 8000 + i },
    registeredAt: new Date(now.getTime() - i * 1000),
    changedAt: now,
  };
}

const binary = new Uint8Array(64 * 1024).map((_, i) => (i * 31) & 0xff);

const messages: { name: string; value: unknown }[] = [
  { name: 'Call, 64-byte string', value: { kind: 30, id: 17, target: 1, method: 'sendData', args: [payload] } },
  { name: 'Reply to it', value: { kind: 40, id: 17, value: true } },
  {
    name: 'Register with metadata',
    value: {
      kind: 10,
      id: 3,
      moniker: 'SampleServer/alpha',
      endpoint,
      object: 1,
      methods: ['getStatus', 'sendData'],
      metadata: { title: 'Sample server alpha', version: '1.2.0', port: 8080, tags: ['demo', 'sample'] },
    },
  },
  {
    name: 'List reply, 100 entries',
    value: { kind: 40, id: 4, value: Array.from({ length: 100 }, (_, i) => wireEntry(i)) },
  },
  { name: 'Call, 64 KiB Uint8Array', value: { kind: 30, id: 18, target: 1, method: 'sendData', args: [binary] } },
];

let sink: unknown;

/** Runs `op` in growing batches until `budget` ns have passed; returns operations per second. */
function rate(op: () => unknown, budget: bigint): number {
  let ops = 0;
  let batch = 1;
  const start = process.hrtime.bigint();
  for (;;) {
    const batchStart = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) sink = op();
    ops += batch;
    const end = process.hrtime.bigint();
    if (end - start >= budget) return (ops * 1e9) / Number(end - start);
    if (end - batchStart < BATCH_NS) batch *= 2;
  }
}

function measure(op: () => unknown): number {
  rate(op, WARMUP_NS);
  const samples = Array.from({ length: SAMPLES }, () => rate(op, SAMPLE_NS)).sort((a, b) => a - b);
  return samples[SAMPLES >> 1] as number;
}

function formatRate(opsPerSecond: number): string {
  if (opsPerSecond >= 1e6) return `${(opsPerSecond / 1e6).toFixed(2)} M/s`;
  if (opsPerSecond >= 1e3) return `${(opsPerSecond / 1e3).toFixed(1)} k/s`;
  return `${opsPerSecond.toFixed(0)} /s`;
}

const rows: string[][] = [];
for (const message of messages) {
  for (const codec of codecs) {
    // A copy, so that later encodes cannot touch the bytes being decoded.
    const bytes = Uint8Array.from(codec.encode(message.value));
    const back = codec.decode(bytes);
    if (!isDeepStrictEqual(normalize(back), normalize(message.value))) {
      throw new Error(`${codec.name} does not round-trip "${message.name}"`);
    }
    rows.push([
      message.name,
      codec.name,
      String(bytes.length),
      formatRate(measure(() => codec.encode(message.value))),
      formatRate(measure(() => codec.decode(bytes))),
      formatRate(measure(() => codec.decode(codec.encode(message.value)))),
    ]);
  }
}

/** Decoders hand binary back as Buffer or Uint8Array; compare the bytes, not the class. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(normalize);
  if (value instanceof Date || value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`node ${process.version}, ${os.availableParallelism()} CPUs (${cpu}), ${new Date().toISOString()}\n`);
const header = ['message', 'codec', 'bytes', 'encode', 'decode', 'round-trip'];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
void sink;
