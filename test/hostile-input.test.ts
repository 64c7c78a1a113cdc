// Hostile input aimed at what a fuzzer rarely hits by chance: __proto__ and constructor keys in
// every field (with the broker and the owner in this process, so that Object.prototype can be
// looked at), length bombs inside CBOR, nesting thousands deep, huge strings. Each gets an error
// with a code, and the broker, the owner and every other connection go on.

import assert from 'node:assert/strict';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connect, RuntableError, type Table } from 'runtable';
import { type Broker, startBroker } from '../src/broker/broker.ts';
import { MAX_METADATA_DEPTH } from '../src/naming/entry-rules.ts';
import { encode } from '../src/wire/codec.ts';
import { Kind } from '../src/wire/protocol.ts';
import { deep, head, rawMap, text } from './fuzz/cbor-gen.ts';
import { Rng } from './fuzz/prng.ts';
import { cleanup, tempTableDir } from './helpers.ts';
import { type FailureMsg, type Msg, RawPeer } from './raw-peer.ts';

const PROTOTYPE_KEYS = Reflect.ownKeys(Object.prototype);
const PROTOTYPE_VALUES = PROTOTYPE_KEYS.map((key) => Reflect.get(Object.prototype, key));

interface Service {
  add(a: number, b: number): number;
}

let dir: string;
let broker: Broker;
let table: Table;
let entry: { endpoint: string; object: number };
let peers: RawPeer[] = [];
const ran: string[] = [];

const service = {
  add: (a: number, b: number) => a + b,
  echo: (value: unknown) => value,
  // Errors whose cause (or code) cannot be encoded: a caller's value too deep, or a symbol.
  throwWith(cause: unknown): never {
    ran.push('throwWith');
    throw new Error('refused', { cause: [cause, Symbol('unsendable')] });
  },
  async rejectWith(cause: unknown): Promise<never> {
    ran.push('rejectWith');
    throw Object.assign(new Error('refused later', { cause }), { code: Symbol('unsendable') });
  },
};

beforeEach(async () => {
  dir = tempTableDir();
  // In this process, so that this test can see Object.prototype as the broker sees it.
  broker = await startBroker({ dir, idleMs: 0 });
  table = await connect({ dir, timeout: 10_000 });
  await table.register('X/a', service);
  const lookup = await raw(path.join(dir, 'broker.sock'));
  entry = (await lookup.request({ kind: Kind.Lookup, id: 1, moniker: 'X/a' })).value as typeof entry;
  ran.length = 0;
});

afterEach(async () => {
  for (const peer of peers) peer.destroy();
  peers = [];
  await table.close();
  await broker.close();
  await cleanup(dir);
});

async function raw(socketPath: string): Promise<RawPeer> {
  const peer = await RawPeer.handshaken(socketPath);
  peers.push(peer);
  return peer;
}

function assertPrototypeIntact(): void {
  assert.deepEqual(Reflect.ownKeys(Object.prototype), PROTOTYPE_KEYS, 'no key added to Object.prototype');
  assert.deepEqual(
    PROTOTYPE_KEYS.map((key) => Reflect.get(Object.prototype, key)),
    PROTOTYPE_VALUES,
    'no value of Object.prototype replaced',
  );
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
  assert.equal('polluted' in {}, false);
}

/** The table lists, and a fresh client calls the owner, as before. */
async function assertServing(): Promise<void> {
  assert.deepEqual(
    (await table.list('X/')).map((e) => e.moniker),
    ['X/a'],
  );
  const fresh = await connect({ dir, timeout: 10_000 });
  try {
    assert.equal(await (await fresh.get<Service>('X/a')).add(2, 3), 5);
  } finally {
    await fresh.close();
  }
}

/** A message as a raw CBOR map: `extra` fields go first, so they meet the decoder before the real ones. */
function withKeys(message: Record<string, unknown>, extra: [string, Buffer][]): Buffer {
  const fields = Object.entries(message).map(([key, value]): [string, Buffer] => [key, Buffer.from(encode(value))]);
  return rawMap([...extra, ...fields, ...extra]);
}

const POLLUTING: [string, Buffer][] = [
  ['__proto__', Buffer.from(encode({ polluted: true, kind: Kind.Status }))],
  ['constructor', Buffer.from(encode({ prototype: { polluted: true } }))],
];
/** A value that tries the same from inside: `{"__proto__": {...}, "constructor": {...}}`. */
const POLLUTING_VALUE = rawMap(POLLUTING);

describe('__proto__ and constructor keys', () => {
  it('in every field of every broker request leave Object.prototype untouched', async () => {
    const peer = await raw(path.join(dir, 'broker.sock'));
    const endpoint = path.join(dir, 'o1-1.sock');
    const requests: Record<string, unknown>[] = [
      { kind: Kind.Register, id: 1, moniker: 'p/a', endpoint, object: 1, methods: ['m'], metadata: {} },
      { kind: Kind.Touch, id: 2, moniker: 'p/a', metadata: {} },
      { kind: Kind.List, id: 3, prefix: '' },
      { kind: Kind.Lookup, id: 4, moniker: 'p/a' },
      { kind: Kind.Watch, id: 5, prefix: 'p/' },
      { kind: Kind.Unwatch, id: 6, watch: 5 },
      { kind: Kind.Status, id: 7 },
      { kind: Kind.Revoke, id: 8, moniker: 'p/a' },
    ];
    for (const request of requests) {
      peer.sendFrame(withKeys(request, POLLUTING));
      await peer.answer(request.id as number);
      // And as the value of each field in turn.
      for (const key of Object.keys(request).filter((k) => k !== 'kind' && k !== 'id')) {
        const fields = Object.entries(request).map(([k, v]): [string, Buffer] => [
          k,
          k === key ? POLLUTING_VALUE : Buffer.from(encode(v)),
        ]);
        peer.sendFrame(rawMap(fields));
        await peer.answer(request.id as number);
      }
    }
    // Metadata with such keys is kept as plain data, never as a prototype.
    const register = { kind: Kind.Register, id: 20, moniker: 'p/b', endpoint, object: 1, methods: [] };
    peer.sendFrame(
      rawMap([
        ...Object.entries(register).map(([k, v]): [string, Buffer] => [k, Buffer.from(encode(v))]),
        ['metadata', POLLUTING_VALUE],
      ]),
    );
    assert.equal((await peer.answer(20)).kind, Kind.Reply, 'such metadata is plain data, and taken');
    const [listed] = await table.list('p/b');
    assert.ok(listed);
    assert.equal(Object.getPrototypeOf(listed.metadata), Object.prototype);
    assert.equal(listed.metadata.polluted, undefined);
    assertPrototypeIntact();
    await assertServing();
  });

  it('in every field of every call-connection message leave Object.prototype untouched and run nothing hidden', async () => {
    const peer = await raw(entry.endpoint);
    const { object } = entry;
    const messages: Record<string, unknown>[] = [
      { kind: Kind.Call, id: 1, target: object, method: 'echo', args: [1] },
      { kind: Kind.Invoke, id: 2, ref: 1, method: 'm', args: [] },
      { kind: Kind.Subscribe, id: 3, target: object, event: 'data' },
      { kind: Kind.Unsubscribe, target: object, event: 'data' },
      { kind: Kind.Cancel, call: 1 },
      { kind: Kind.Release, ref: 1, count: 1 },
      { kind: Kind.StreamCredit, stream: 1, credit: 1 },
      { kind: Kind.StreamItems, stream: 1, values: [1] },
      { kind: Kind.StreamEnd, stream: 1 },
      { kind: Kind.Event, target: 1, event: 'data', args: [] },
      { kind: Kind.Reply, id: 5, value: 1 },
      { kind: Kind.Failure, id: 5, error: { code: 'REMOTE', message: 'x' } },
    ];
    for (const message of messages) {
      peer.sendFrame(withKeys(message, POLLUTING));
      for (const key of Object.keys(message).filter((k) => k !== 'kind')) {
        const fields = Object.entries(message).map(([k, v]): [string, Buffer] => [
          k,
          k === key ? POLLUTING_VALUE : Buffer.from(encode(v)),
        ]);
        peer.sendFrame(rawMap(fields));
      }
    }
    // Polluting values as arguments, at the top and nested, reach the method as plain data.
    const args = Buffer.concat([head(4, 2), POLLUTING_VALUE, Buffer.concat([head(4, 1), POLLUTING_VALUE])]);
    peer.sendFrame(
      rawMap([
        ['kind', head(0, Kind.Call)],
        ['id', head(0, 99)],
        ['target', head(0, object)],
        ['method', text('echo')],
        ['args', args],
      ]),
    );
    const echoed = (await peer.answer(99)) as Msg;
    assert.equal(echoed.kind, Kind.Reply);
    assert.equal(Object.getPrototypeOf(echoed.value), Object.prototype);
    assertPrototypeIntact();
    assert.deepEqual(ran, []);
    await assertServing();
  });
});

describe('length bombs', () => {
  /** CBOR items that announce far more than the frame holds. */
  const BOMBS: [string, Buffer][] = [
    ['an array of 2^32 items', head(4, 2n ** 32n)],
    ['an array of 2^64-1 items', head(4, 2n ** 64n - 1n)],
    ['a map of 2^31 pairs', head(5, 2n ** 31n)],
    ['a byte string of 4 GiB', head(2, 0xffffffff)],
    ['a text string of 2^53 bytes', head(3, 2n ** 53n)],
    ['a Set (tag 258) of 2^32 items', Buffer.concat([head(6, 258), head(4, 2n ** 32n)])],
    ['a Map (tag 259) of 2^32 pairs', Buffer.concat([head(6, 259), head(5, 2n ** 32n)])],
    ['a typed array of 4 GiB', Buffer.concat([head(6, 72), head(2, 0xffffffff)])],
    ['a bignum of 4 GiB', Buffer.concat([head(6, 2), head(2, 0xffffffff)])],
  ];

  for (const target of ['broker', 'endpoint'] as const) {
    it(`inside a small frame to the ${target}: a PROTOCOL failure each, and the connection goes on`, async () => {
      const peer = await raw(target === 'broker' ? path.join(dir, 'broker.sock') : entry.endpoint);
      const before = process.memoryUsage().rss;
      for (const [what, bomb] of BOMBS) {
        // As the whole message, and as a field of a real one.
        for (const payload of [
          bomb,
          target === 'broker'
            ? rawMap([
                ['kind', head(0, Kind.List)],
                ['id', head(0, 1)],
                ['prefix', bomb],
              ])
            : rawMap([
                ['kind', head(0, Kind.Call)],
                ['id', head(0, 1)],
                ['target', head(0, entry.object)],
                ['method', text('echo')],
                ['args', bomb],
              ]),
        ]) {
          peer.sendFrame(payload);
          const failure = await peer.failure(0);
          assert.equal(failure.error.code, 'PROTOCOL', `${what}: ${JSON.stringify(failure.error)}`);
        }
      }
      assert.equal(peer.isClosed, false);
      // Nothing was reserved for what was announced (a GiB or more each); generous for GC noise.
      assert.ok(process.memoryUsage().rss - before < 256 * 1024 * 1024, 'no allocation of the announced sizes');
      await assertServing();
    });
  }

  it('a chunk announcing a 4 PiB message fails that transfer with FRAME_TOO_LARGE', async () => {
    const peer = await raw(entry.endpoint);
    peer.send({ kind: Kind.Chunk, transfer: 1, offset: 0, total: 2 ** 52, data: new Uint8Array(10), request: 7 });
    const failure = await peer.failure(7);
    assert.equal(failure.error.code, 'FRAME_TOO_LARGE');
    await assertServing();
  });
});

describe('deep nesting', () => {
  it('values nested tens of thousands deep are refused as undecodable, and the connection goes on', async () => {
    for (const socket of [path.join(dir, 'broker.sock'), entry.endpoint]) {
      const peer = await raw(socket);
      const rng = new Rng(5);
      for (let i = 0; i < 6; i++) {
        const payload = deep(rng);
        peer.sendFrame(payload);
        // Shallow enough to decode, it is a value but not a message: PROTOCOL either way.
        assert.equal((await peer.failure(0)).error.code, 'PROTOCOL');
      }
      assert.equal(peer.isClosed, false);
    }
    await assertServing();
  });

  it(`metadata nested deeper than ${MAX_METADATA_DEPTH} levels is refused with BAD_ARGUMENT; the table lists as before`, async () => {
    // Regression: the broker took metadata nested ~1,300 deep, which then could overflow the
    // stack of every List and TableEvent that encoded it.
    const peer = await raw(path.join(dir, 'broker.sock'));
    // Built by hand: runtable's own encoder refuses to write values this deep (MAX_VALUE_DEPTH).
    const nested = (levels: number): Buffer => {
      let value = head(0, 1);
      for (let i = 0; i < levels; i++) value = i % 2 ? rawMap([['a', value]]) : Buffer.concat([head(4, 1), value]);
      return value;
    };
    const fields = (message: Record<string, unknown>): [string, Buffer][] =>
      Object.entries(message).map(([key, value]): [string, Buffer] => [key, Buffer.from(encode(value))]);
    const register = (id: number, levels: number) =>
      rawMap([
        ...fields({
          kind: Kind.Register,
          id,
          moniker: `deep/${levels}`,
          endpoint: path.join(dir, 'o1-1.sock'),
          object: 1,
          methods: [],
        }),
        ['metadata', rawMap([['value', nested(levels)]])],
      ]);
    peer.sendFrame(register(1, MAX_METADATA_DEPTH - 1));
    assert.equal((await peer.answer(1)).kind, Kind.Reply, 'at the limit');
    for (const [id, levels] of [
      [2, MAX_METADATA_DEPTH],
      [3, 1300],
    ] as const) {
      peer.sendFrame(register(id, levels));
      const answer = (await peer.answer(id)) as unknown as FailureMsg;
      assert.equal(answer.error?.code, 'BAD_ARGUMENT', JSON.stringify(answer).slice(0, 200));
      assert.match(answer.error.message, new RegExp(`deeper than ${MAX_METADATA_DEPTH}`));
    }
    peer.sendFrame(
      rawMap([
        ...fields({ kind: Kind.Touch, id: 4, moniker: `deep/${MAX_METADATA_DEPTH - 1}` }),
        ['metadata', rawMap([['v', nested(1300)]])],
      ]),
    );
    const touch = (await peer.answer(4)) as unknown as FailureMsg;
    assert.equal(touch.error?.code, 'BAD_ARGUMENT');
    assert.deepEqual(
      (await table.list('deep/')).map((e) => e.moniker),
      [`deep/${MAX_METADATA_DEPTH - 1}`],
    );
    await assertServing();
  });

  it('a method that throws or rejects with a cause it cannot send: the caller gets the error without it', async () => {
    // Regression, found with arguments nested ~2,000 deep thrown back as a cause: an async
    // method's rejection that could not be encoded was an unhandled rejection (the owner process
    // died), and a sync throw dropped the caller's connection.
    const peer = await raw(entry.endpoint);
    const args = Buffer.concat([head(4, 1), nestedArrays(1000)]);
    let id = 10;
    for (const method of ['throwWith', 'rejectWith']) {
      peer.sendFrame(
        rawMap([
          ['kind', head(0, Kind.Call)],
          ['id', head(0, ++id)],
          ['target', head(0, entry.object)],
          ['method', text(method)],
          ['args', args],
        ]),
      );
      const answer = (await peer.answer(id, 10_000)) as unknown as FailureMsg;
      assert.equal(answer.kind, Kind.Failure);
      assert.equal(answer.error.code, 'REMOTE', JSON.stringify(answer.error).slice(0, 300));
      assert.match(answer.error.message, /refused.*could not be sent/);
    }
    assert.deepEqual(ran, ['throwWith', 'rejectWith'], 'both ran: the arguments decoded');
    assert.equal(peer.isClosed, false);
    await assertServing();
  });
});

/** Arrays nested `levels` deep around a 1. */
function nestedArrays(levels: number): Buffer {
  const out = Buffer.alloc(levels + 1, 0x81);
  out[levels] = 0x01;
  return out;
}

describe('huge strings', () => {
  it('a moniker, prefix or method name near the frame limit gets its code, not an echo of itself', async () => {
    const huge = 'm'.repeat(900_000);
    const broker = await raw(path.join(dir, 'broker.sock'));
    for (const message of [
      { kind: Kind.Lookup, id: 1, moniker: huge },
      { kind: Kind.List, id: 2, prefix: huge },
      { kind: Kind.Watch, id: 3, prefix: huge },
    ]) {
      const answer = (await broker.request(message)) as unknown as FailureMsg;
      assert.equal(answer.error.code, 'BAD_MONIKER');
      assert.ok(answer.error.message.length < 1000, 'the refusal does not repeat the input');
    }
    const owner = await raw(entry.endpoint);
    const answer = (await owner.request({
      kind: Kind.Call,
      id: 4,
      target: entry.object,
      method: huge,
      args: [],
    })) as unknown as FailureMsg;
    assert.equal(answer.error.code, 'NO_SUCH_METHOD');
    assert.ok(answer.error.message.length < 1000, 'the refusal does not repeat the input');
    await assertServing();
  });

  it('the public API refuses a huge moniker with BAD_MONIKER before sending anything', async () => {
    await assert.rejects(table.lookup('x'.repeat(2_000_000)), (error: unknown) => {
      assert.ok(error instanceof RuntableError);
      assert.equal(error.code, 'BAD_MONIKER');
      return true;
    });
  });
});
