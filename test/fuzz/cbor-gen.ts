// Random CBOR written byte by byte, so that it can be what no encoder would produce: lengths that
// lie, indefinite items, stray breaks, any tag (cbor-x's own and ours included), invalid UTF-8,
// nesting thousands deep, and keys such as __proto__ and constructor.

import type { Rng } from './prng.ts';

/** Tags worth trying: dates, bignums, cbor-x's packed and shared values, typed arrays, Set, Map, ours. */
const TAGS = [
  0, 1, 2, 3, 6, 24, 28, 29, 30, 51, 64, 65, 68, 69, 70, 72, 77, 78, 81, 85, 86, 258, 259, 21108, 21109, 55799,
];
/** Keys that reach into prototypes or look like message fields. */
export const NASTY_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'kind',
  'id',
  'then',
  '',
];

/** The head of a CBOR item: major type and argument, in the shortest or a needlessly long form. */
export function head(major: number, n: number | bigint, rng?: Rng): Buffer {
  const value = BigInt(n);
  const top = major << 5;
  const long = rng?.chance(0.1) ?? false;
  if (value < 24n && !long) return Buffer.from([top | Number(value)]);
  if (value < 0x100n && !long) return Buffer.from([top | 24, Number(value)]);
  if (value < 0x10000n && !long) {
    const out = Buffer.alloc(3);
    out[0] = top | 25;
    out.writeUInt16BE(Number(value), 1);
    return out;
  }
  if (value < 0x100000000n) {
    const out = Buffer.alloc(5);
    out[0] = top | 26;
    out.writeUInt32BE(Number(value), 1);
    return out;
  }
  const out = Buffer.alloc(9);
  out[0] = top | 27;
  out.writeBigUInt64BE(value & 0xffffffffffffffffn, 1);
  return out;
}

export function text(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([head(3, bytes.length), bytes]);
}

/** A length: mostly honest and small, sometimes huge (a bomb the data does not back). */
function length(rng: Rng, honest: number): number | bigint {
  if (!rng.chance(0.08)) return honest;
  return rng.pick([honest + 1, 0x7fffffff, 0xffffffff, 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n, 1e8]);
}

/** One random CBOR item, at most `depth` levels of containers deep. */
export function randomCbor(rng: Rng, depth = 4): Buffer {
  const roll = rng.int(depth > 0 ? 14 : 8);
  switch (roll) {
    case 0:
      return head(0, rng.chance(0.5) ? rng.int(30) : BigInt(rng.int(2 ** 30)) * BigInt(rng.int(2 ** 30)), rng);
    case 1:
      return head(1, rng.int(2 ** 31), rng);
    case 2: {
      const data = rng.bytes(rng.size(64));
      return Buffer.concat([head(2, length(rng, data.length), rng), data]);
    }
    case 3: {
      const data = rng.chance(0.2) ? rng.bytes(rng.size(32)) : Buffer.from(rng.pick(NASTY_KEYS));
      return Buffer.concat([head(3, length(rng, data.length), rng), data]);
    }
    case 4:
      return Buffer.from([rng.pick([0xf4, 0xf5, 0xf6, 0xf7, 0xff, 0xf8, 0x1c, 0x5f, 0x7f])]);
    case 5: {
      const kind = rng.pick([0xf9, 0xfa, 0xfb]);
      return Buffer.concat([Buffer.from([kind]), rng.bytes(kind === 0xf9 ? 2 : kind === 0xfa ? 4 : 8)]);
    }
    case 6:
      return text(rng.pick(['registered', 'x'.repeat(rng.size(5000)), 'é🎉\u0000\n', 'fuzz/a']));
    case 7:
      return rng.bytes(rng.size(16));
    case 8:
    case 9: {
      const n = rng.size(6);
      const items = Array.from({ length: n }, () => randomCbor(rng, depth - 1));
      if (rng.chance(0.15)) return Buffer.concat([Buffer.from([0x9f]), ...items, Buffer.from([0xff])]);
      return Buffer.concat([head(4, length(rng, n), rng), ...items]);
    }
    case 10:
    case 11: {
      const n = rng.size(6);
      const pairs = Array.from({ length: n }, () => [
        rng.chance(0.7) ? text(rng.pick(NASTY_KEYS)) : randomCbor(rng, 0),
        randomCbor(rng, depth - 1),
      ]).flat();
      if (rng.chance(0.15)) return Buffer.concat([Buffer.from([0xbf]), ...pairs, Buffer.from([0xff])]);
      return Buffer.concat([head(5, length(rng, n), rng), ...pairs]);
    }
    case 12:
      return Buffer.concat([
        head(6, rng.chance(0.9) ? rng.pick(TAGS) : rng.int(2 ** 32), rng),
        randomCbor(rng, depth - 1),
      ]);
    default:
      return deep(rng);
  }
}

/** Arrays, maps or tags nested up to tens of thousands deep around one small item. */
export function deep(rng: Rng): Buffer {
  const levels = rng.pick([100, 1000, 1500, 2000, 3000, 10_000, 50_000]);
  const opener = rng.pick([[0x81], [0xa1, 0x61, 0x61], [0xc6], [0xd9, 0x01, 0x02]]);
  const out = Buffer.alloc(levels * opener.length + 1);
  for (let i = 0; i < levels; i++) out.set(opener, i * opener.length);
  out[out.length - 1] = 0x01;
  return out;
}

/** A map with these text keys and CBOR values, as raw bytes. */
export function rawMap(fields: [string, Buffer][]): Buffer {
  return Buffer.concat([head(5, fields.length), ...fields.flatMap(([key, value]) => [text(key), value])]);
}
