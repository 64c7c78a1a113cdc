// The fuzz cases: each is the bytes one connection sends, made from (seed, index) alone. Random
// bytes, random frames, random CBOR, and valid messages mutated: bit flips, truncations, length
// fields that lie, wrong kinds, fields of the wrong type, __proto__ keys, deep nesting.

import { MAX_FRAME_BYTES } from '../../src/transport/framing.ts';
import { encode } from '../../src/wire/codec.ts';
import { Kind, PROTOCOL_VERSION } from '../../src/wire/protocol.ts';
import { deep, head, NASTY_KEYS, randomCbor, rawMap, text } from './cbor-gen.ts';
import { Rng } from './prng.ts';

export type Target = 'broker' | 'endpoint';

/** What a case needs to know to look plausible: the token, and what the owner serves. */
export interface FuzzContext {
  token: string;
  dir: string;
  /** The owner's object id on its endpoint. */
  object: number;
  /** Methods the owner exposes. */
  methods: string[];
}

export interface FuzzCase {
  index: number;
  target: Target;
  /** What was made, for the report of a failing case. */
  what: string;
  bytes: Buffer;
}

type Fields = Record<string, unknown>;

/** Method names an owner must never run, whatever a peer sends. */
const FORBIDDEN_METHODS = ['constructor', '__proto__', '_secret', 'toString', 'hasOwnProperty', 'valueOf', 'then', ''];
const ALL_KINDS = Object.values(Kind);

function frame(payload: Buffer, lie = 0): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(Math.max(0, Math.min(0xffffffff, payload.length + lie)), 0);
  return Buffer.concat([header, payload]);
}

function hello(ctx: FuzzContext): Fields {
  return { kind: Kind.Hello, version: PROTOCOL_VERSION, pid: process.pid, token: ctx.token };
}

function anyId(rng: Rng): unknown {
  return rng.chance(0.8) ? rng.range(1, 50) : rng.pick([0, -1, 1.5, 2 ** 31, 2 ** 53, Number.NaN, '1', null]);
}

/** A JS value of any type the codec carries, sometimes with prototype-reaching keys. */
function anyValue(rng: Rng, depth = 3): unknown {
  switch (rng.int(depth > 0 ? 14 : 10)) {
    case 0:
      return rng.int(1000);
    case 1:
      return rng.pick([-0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, -(2 ** 31)]);
    case 2:
      return rng.pick(['', 'x', '__proto__', 'fuzz/a', 'é🎉', 'x'.repeat(rng.size(70_000))]);
    case 3:
      return rng.pick([true, false, null, undefined]);
    case 4:
      return BigInt(rng.int(2 ** 31)) ** BigInt(rng.range(1, 4));
    case 5:
      return new Date(rng.pick([0, 8.64e15, -8.64e15, Date.now()]));
    case 6:
      return rng.bytes(rng.size(300));
    case 7:
      return new Float64Array(rng.size(8)).fill(rng.next());
    case 8:
      return new Error(rng.pick(['boom', '']));
    case 9:
      // JSON.parse makes "__proto__" an own key, as a hostile peer's map would be.
      return JSON.parse(`{"__proto__": {"polluted": ${rng.int(9)}}, "constructor": {"prototype": {"polluted": 1}}}`);
    case 10:
      return Array.from({ length: rng.size(5) }, () => anyValue(rng, depth - 1));
    case 11:
      return Object.fromEntries(
        Array.from({ length: rng.size(4) }, () => [rng.pick(NASTY_KEYS), anyValue(rng, depth - 1)]),
      );
    case 12:
      return new Map([[anyValue(rng, 0), anyValue(rng, depth - 1)]]);
    default:
      return new Set([anyValue(rng, depth - 1), anyValue(rng, 0)]);
  }
}

function moniker(rng: Rng): string {
  return rng.chance(0.85) ? `fuzz/${rng.int(8)}` : String(anyValue(rng, 0));
}

/** Requests the broker takes, plausibly filled in. */
function brokerMessage(rng: Rng, ctx: FuzzContext): Fields {
  const id = anyId(rng);
  switch (rng.int(9)) {
    case 0:
    case 1:
      return {
        kind: Kind.Register,
        id,
        moniker: moniker(rng),
        endpoint: rng.chance(0.8) ? `${ctx.dir}/o${rng.int(99999)}-1.sock` : anyValue(rng, 0),
        object: rng.int(5),
        methods: rng.chance(0.8) ? ['m', 'n'] : anyValue(rng),
        metadata: rng.chance(0.5) ? { a: 1 } : anyValue(rng),
        ...(rng.chance(0.3) ? { replace: rng.chance(0.5) } : {}),
        ...(rng.chance(0.3) ? { queue: rng.chance(0.5) } : {}),
        ...(rng.chance(0.1) ? { registeredAt: new Date(0), changedAt: anyValue(rng, 0) } : {}),
      };
    case 2:
      return { kind: Kind.Revoke, id, moniker: moniker(rng) };
    case 3:
      return { kind: Kind.List, id, prefix: rng.chance(0.7) ? rng.pick(['', 'fuzz/', 'X/']) : anyValue(rng, 1) };
    case 4:
      return { kind: Kind.Lookup, id, moniker: rng.chance(0.3) ? 'X/a' : moniker(rng) };
    case 5:
      return { kind: Kind.Touch, id, moniker: moniker(rng), ...(rng.chance(0.5) ? { metadata: anyValue(rng) } : {}) };
    case 6:
      return { kind: Kind.Watch, id, prefix: rng.chance(0.8) ? 'fuzz/' : anyValue(rng, 1) };
    case 7:
      return { kind: Kind.Unwatch, id, watch: anyId(rng) };
    default:
      return { kind: Kind.Status, id };
  }
}

/** What a caller sends an owner's endpoint, plausibly filled in. */
function endpointMessage(rng: Rng, ctx: FuzzContext): Fields {
  const id = anyId(rng);
  const method = rng.chance(0.6) ? rng.pick(ctx.methods) : rng.pick(FORBIDDEN_METHODS);
  const args = () =>
    rng.chance(0.5) ? [rng.int(9), rng.int(9)] : Array.from({ length: rng.size(4) }, () => anyValue(rng));
  switch (rng.int(12)) {
    case 0:
    case 1:
    case 2:
      return {
        kind: Kind.Call,
        id,
        target: rng.chance(0.8) ? ctx.object : anyId(rng),
        method,
        args: args(),
        ...(rng.chance(0.2) ? { stack: true } : {}),
      };
    case 3:
      return { kind: Kind.Invoke, id, ref: anyId(rng), method, args: args() };
    case 4:
      return { kind: Kind.Cancel, call: anyId(rng) };
    case 5:
      return { kind: Kind.Release, ref: anyId(rng), count: anyId(rng) };
    case 6:
      return { kind: Kind.Subscribe, id, target: ctx.object, event: rng.chance(0.8) ? 'data' : anyValue(rng, 1) };
    case 7:
      return { kind: Kind.Unsubscribe, target: ctx.object, event: 'data' };
    case 8:
      return { kind: Kind.StreamCredit, stream: anyId(rng), credit: rng.pick([1, 256, 2 ** 31, -1, 0]) };
    case 9:
      return rng.pick([
        { kind: Kind.StreamItems, stream: anyId(rng), values: [anyValue(rng)] },
        { kind: Kind.StreamEnd, stream: anyId(rng) },
        { kind: Kind.StreamCancel, stream: anyId(rng) },
        { kind: Kind.Event, target: anyId(rng), event: 'data', args: [] },
      ]);
    case 10:
      return {
        kind: Kind.Chunk,
        transfer: anyId(rng),
        offset: rng.pick([0, 1, 65536, 2 ** 40]),
        total: rng.pick([10, 65537, MAX_FRAME_BYTES * 4, 2 ** 30, 2 ** 52]),
        data: rng.bytes(rng.size(2000)),
        ...(rng.chance(0.5) ? { request: anyId(rng) } : {}),
      };
    default:
      return rng.pick([
        { kind: Kind.Reply, id, value: anyValue(rng) },
        { kind: Kind.Failure, id, error: { code: 'REMOTE', message: 'x', cause: anyValue(rng) } },
      ]);
  }
}

/** The message with one thing wrong with it, as CBOR bytes. */
function mutateMessage(rng: Rng, message: Fields): [string, Buffer] {
  const keys = Object.keys(message);
  switch (rng.int(6)) {
    case 0: {
      // A field of the wrong type, as raw CBOR of any shape.
      const key = rng.pick(keys);
      const fields = keys.map((k): [string, Buffer] => [
        k,
        k === key ? randomCbor(rng) : Buffer.from(encode(message[k])),
      ]);
      return [`field ${key} replaced by random CBOR`, rawMap(fields)];
    }
    case 1: {
      const kind = rng.chance(0.8) ? rng.pick(ALL_KINDS) : rng.pick([0, 99, -1, 2 ** 40, 'List']);
      return [`kind ${String(kind)}`, Buffer.from(encode({ ...message, kind }))];
    }
    case 2: {
      const key = rng.pick(keys);
      const copy = { ...message };
      delete copy[key];
      return [`without ${key}`, Buffer.from(encode(copy))];
    }
    case 3: {
      // Extra fields that reach for prototypes, before and after the real ones.
      const extra = rawMap([
        ['__proto__', Buffer.from(encode({ kind: Kind.Status, polluted: true }))],
        ...keys.map((k): [string, Buffer] => [k, Buffer.from(encode(message[k]))]),
        ['constructor', Buffer.from(encode({ prototype: { polluted: true } }))],
      ]);
      return ['with __proto__ and constructor keys', extra];
    }
    case 4: {
      const key = rng.pick(keys);
      const fields = keys.map((k): [string, Buffer] => [k, k === key ? deep(rng) : Buffer.from(encode(message[k]))]);
      return [`field ${key} nested deep`, rawMap(fields)];
    }
    default: {
      const key = rng.pick(keys);
      return [`field ${key} a random value`, Buffer.from(encode({ ...message, [key]: anyValue(rng) }))];
    }
  }
}

/** Damage done to encoded bytes. */
function damage(rng: Rng, payload: Buffer): [string, Buffer] {
  const out = Buffer.from(payload);
  switch (rng.int(4)) {
    case 0: {
      const flips = rng.range(1, 8);
      for (let i = 0; i < flips && out.length > 0; i++) {
        const at = rng.int(out.length);
        out[at] = (out[at] as number) ^ (1 << rng.int(8));
      }
      return [`${flips} bit flips`, frame(out)];
    }
    case 1: {
      const keep = rng.int(Math.max(1, out.length));
      return [`truncated to ${keep} of ${out.length}`, frame(out.subarray(0, Math.max(1, keep)))];
    }
    case 2: {
      // The length field lies; the stream goes out of step, or a frame waits for bytes that never come.
      const lie = rng.pick([-1, 1, -out.length + 1, 3, 1000, MAX_FRAME_BYTES - out.length, MAX_FRAME_BYTES + 1]);
      return [`length field off by ${lie}`, frame(out, lie)];
    }
    default: {
      const at = rng.int(out.length + 1);
      const junk = rng.bytes(rng.size(32));
      return ['random bytes inserted', frame(Buffer.concat([out.subarray(0, at), junk, out.subarray(at)]))];
    }
  }
}

/** Case `index` of run `seed` against `target`. */
export function makeCase(seed: number, index: number, target: Target, ctx: FuzzContext): FuzzCase {
  const rng = Rng.forCase(seed, index);
  const message = () => (target === 'broker' ? brokerMessage(rng, ctx) : endpointMessage(rng, ctx));
  const parts: Buffer[] = [];
  const what: string[] = [];
  // Mostly a good handshake first, so that the rest reaches the sessions behind it.
  const handshake = rng.int(10);
  if (handshake < 8) parts.push(frame(Buffer.from(encode(hello(ctx)))));
  else if (handshake === 8) {
    const [how, bytes] = mutateMessage(rng, hello(ctx));
    parts.push(frame(bytes));
    what.push(`Hello ${how}`);
  } else what.push('no Hello');
  const count = rng.range(1, 6);
  for (let i = 0; i < count; i++) {
    // Weighted toward input that gets past the framing, so that the later parts are read too.
    const roll = rng.int(20);
    switch (roll < 1 ? 0 : roll < 3 ? 1 : roll < 5 ? 2 : roll < 12 ? 3 : roll < 17 ? 4 : roll < 19 ? 5 : 6) {
      case 0:
        parts.push(rng.bytes(rng.size(200)));
        what.push('random bytes');
        break;
      case 1:
        parts.push(frame(rng.bytes(rng.range(1, 300))));
        what.push('random frame');
        break;
      case 2:
        parts.push(frame(randomCbor(rng)));
        what.push('random CBOR');
        break;
      case 3: {
        const m = message();
        parts.push(frame(Buffer.from(encode(m))));
        what.push(`kind ${String(m.kind)}`);
        break;
      }
      case 4: {
        const m = message();
        const [how, bytes] = mutateMessage(rng, m);
        parts.push(frame(bytes));
        what.push(`kind ${String(m.kind)} ${how}`);
        break;
      }
      case 5: {
        const m = message();
        const [how, bytes] = damage(rng, Buffer.from(encode(m)));
        parts.push(bytes);
        what.push(`kind ${String(m.kind)} ${how}`);
        break;
      }
      default: {
        const m = message();
        const [how, bytes] = damage(rng, mutateMessage(rng, m)[1]);
        parts.push(bytes);
        what.push(`kind ${String(m.kind)} mutated, then ${how}`);
      }
    }
  }
  if (target === 'endpoint' && rng.chance(0.05)) {
    // A call whose argument is nested deep: it decodes, and the method may hand it back.
    const call = rawMap([
      ['kind', head(0, Kind.Call)],
      ['id', head(0, rng.range(1, 50))],
      ['target', head(0, ctx.object)],
      ['method', text(rng.pick(ctx.methods))],
      ['args', Buffer.concat([head(4, 2), text('x'), deep(rng)])],
    ]);
    parts.push(frame(call));
    what.push('a call with a deeply nested argument');
  }
  if (rng.chance(0.03)) {
    // An announced frame larger than the limit, or an empty one.
    parts.push(rng.chance(0.5) ? head(0, 0).subarray(0, 0) : Buffer.alloc(4));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(rng.pick([0, MAX_FRAME_BYTES + 1, 0xffffffff]), 0);
    parts.push(header);
    what.push('bad length header');
  }
  return { index, target, what: what.join('; '), bytes: Buffer.concat(parts) };
}
