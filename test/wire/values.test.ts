// The value rules (src/wire/values.ts and the decoder): what structuredClone refuses is refused
// with its path and type before anything is encoded, circular data says so and where, class
// instances travel as their own data, and a __proto__ key stays an own key both ways.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RuntableError } from 'runtable';
import { decode, encode, type ReferenceContext, type RefKind } from '../../src/wire/codec.ts';
import { MAX_VALUE_DEPTH } from '../../src/wire/values.ts';

function refused(value: unknown, pattern: RegExp): void {
  assert.throws(
    () => encode(value),
    (error: unknown) => {
      assert.ok(error instanceof RuntableError, String(error));
      assert.equal(error.code, 'BAD_ARGUMENT');
      assert.match(error.message, pattern);
      return true;
    },
  );
}

/** A reference context that records what was exported. */
function exporter(): ReferenceContext & { exported: unknown[] } {
  const exported: unknown[] = [];
  return {
    exported,
    exportReference(kind: RefKind, value: object) {
      exported.push(value);
      return [kind, exported.length];
    },
    importReference: (kind: number, id: number) => ({ kind, id }),
  };
}

describe('values: refused as structuredClone refuses them, with the path and the type', () => {
  it('a Promise (a missing await) names its path', () => {
    refused({ args: [{ user: { session: Promise.resolve(1) } }] }, /^args\[0\]\.user\.session is a Promise.*await/);
    class Deferred {
      // biome-ignore lint/suspicious/noThenProperty: a thenable is what this test sends.
      then(resolve: (value: number) => void) {
        resolve(1);
      }
    }
    refused({ args: [new Deferred()] }, /^args\[0\] is a Deferred, which cannot be sent: await it first/);
  });

  it('WeakMap, WeakSet, WeakRef, FinalizationRegistry, Symbol, RegExp, SharedArrayBuffer', () => {
    refused({ args: [new WeakMap()] }, /^args\[0\] is a WeakMap/);
    refused({ args: [1, { s: new WeakSet() }] }, /^args\[1\]\.s is a WeakSet/);
    refused({ args: [new WeakRef({})] }, /is a WeakRef/);
    refused({ args: [new FinalizationRegistry(() => {})] }, /is a FinalizationRegistry/);
    refused({ args: [Symbol('x')] }, /^args\[0\] is a Symbol/);
    refused({ args: [{ 'odd key': [Symbol.iterator] }] }, /^args\[0\]\["odd key"\]\[0\] is a Symbol/);
    refused({ value: /x/g }, /^value is a RegExp.*source and flags/);
    refused({ args: [new SharedArrayBuffer(4)] }, /is a SharedArrayBuffer/);
    refused(Symbol('top'), /^the value is a Symbol/);
  });

  it('inside a Map, a Set, an Error cause and a class instance', () => {
    refused({ args: [new Map([['k', Promise.resolve()]])] }, /^args\[0\]\[Map entry "k"\] is a Promise/);
    refused({ args: [new Set([1, new WeakMap()])] }, /^args\[0\]\[Set item 1\] is a WeakMap/);
    refused({ args: [new Error('e', { cause: { p: Promise.resolve() } })] }, /^args\[0\]\.cause\.p is a Promise/);
    class Holder {
      inner = { weak: new WeakSet() };
    }
    refused({ args: [new Holder()] }, /^args\[0\]\.inner\.weak is a WeakSet/);
  });

  it('a runtable proxy (structuredClone refuses proxies too)', async () => {
    const { createRemote } = await import('../../src/calls/proxy.ts');
    const remote = createRemote('Some/where', () => Promise.reject(new Error('never resolved')), false);
    refused(
      { args: [{ server: remote }] },
      /^args\[0\]\.server is \[Remote Some\/where\], a proxy, which cannot be sent/,
    );
  });

  it('an async iterable anywhere but as a whole result', () => {
    async function* items() {
      yield 1;
    }
    refused({ args: [items()] }, /async iterable: streams travel only as the whole result/);
  });

  it('nothing is exported when a later part of the value is refused', () => {
    const context = exporter();
    assert.throws(() => encode({ args: [() => 1, Promise.resolve()] }, context), { code: 'BAD_ARGUMENT' });
    assert.deepEqual(context.exported, []);
    encode({ args: [() => 1] }, context);
    assert.equal(context.exported.length, 1);
  });

  it('functions are references on a call connection and refused elsewhere', () => {
    refused({ args: [() => 1] }, /functions and references can only travel in calls/);
    const context = exporter();
    const fn = () => 1;
    class WithCallback {
      onDone = fn;
    }
    encode({ args: [new WithCallback()] }, context);
    assert.deepEqual(context.exported, [fn], 'a callback inside a class instance travels too');
  });
});

describe('values: circular data', () => {
  it('says "circular" and where, not "Maximum call stack size exceeded"', () => {
    const a: Record<string, unknown> = { user: { name: 'x' } };
    (a.user as Record<string, unknown>).session = { back: a };
    refused({ args: [a] }, /^args\[0\]\.user\.session\.back is circular: it refers back to args\[0\];/);
    const list: unknown[] = [1];
    list.push({ list });
    refused({ args: [list] }, /^args\[0\]\[1\]\.list is circular: it refers back to args\[0\]/);
    const error = new Error('loop') as Error & { cause?: unknown };
    error.cause = error;
    refused({ value: error }, /^value\.cause is circular: it refers back to value/);
    const map = new Map<string, unknown>();
    map.set('self', map);
    refused({ args: [map] }, /^args\[0\]\[Map entry "self"\] is circular/);
  });

  it('a value shared twice without a loop is not circular', () => {
    const shared = { n: 1 };
    assert.deepEqual(decode(encode({ a: shared, b: [shared, shared] })), { a: shared, b: [shared, shared] });
  });

  it(`more than ${MAX_VALUE_DEPTH} levels without a loop is refused for its depth, with a short path`, () => {
    let value: unknown = 1;
    for (let i = 0; i < MAX_VALUE_DEPTH + 5; i++) value = [value];
    refused({ args: [value] }, /^args\[0\](\[0\])+ …\(\d+ more levels\)… (\[0\])+ nests deeper than 512 levels/);
    let ok: unknown = 1;
    for (let i = 0; i < MAX_VALUE_DEPTH - 5; i++) ok = [ok];
    assert.deepEqual(decode(encode({ args: [ok] })), { args: [ok] });
  });
});

describe('values: what arrives', () => {
  it('a class instance arrives as its own enumerable data, as structuredClone makes it', () => {
    class Point {
      x = 1;
      y = 2;
      #secret = 3;
      get length() {
        return this.#secret;
      }
      norm() {
        return 0;
      }
    }
    const back = decode(encode({ p: new Point() })) as { p: unknown };
    assert.deepEqual(back.p, structuredClone(new Point()));
    assert.equal(Object.getPrototypeOf(back.p), Object.prototype);
  });

  it('an iterable class instance arrives as its data, not as its items', () => {
    class Bag {
      items = [1, 2];
      *[Symbol.iterator]() {
        yield* this.items;
      }
    }
    assert.deepEqual(decode(encode(new Bag())), { items: [1, 2] });
  });

  it('boxed primitives arrive as primitives', () => {
    assert.deepEqual(decode(encode([new Number(1), new String('s'), new Boolean(false)])), [1, 's', false]);
  });

  it('a __proto__ key stays an own key both ways and pollutes nothing', () => {
    const value = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const back = decode(encode(value)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(back), ['__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(back, '__proto__')?.value, { polluted: true });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    // Also when the walk copies the object (a function beside it), and with a __proto_ key too.
    const context = exporter();
    const withFn = JSON.parse('{"__proto__": {"x": 1}, "__proto_": 2}');
    withFn.f = () => 1;
    const bytes = encode(withFn, context);
    assert.ok(Buffer.from(bytes).includes(Buffer.from('\x69__proto__')), 'written as __proto__');
    const decoded = decode(bytes, context) as Record<string, unknown>;
    assert.deepEqual(Object.keys(decoded), ['__proto__', '__proto_', 'f']);
    assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
    assert.equal(decoded.__proto_, 2);
  });
});

describe('decoder: what it refuses', () => {
  it("refuses cbor-x's packed tables and shared values (tags 6, 28, 29, 51)", () => {
    for (const hex of ['c601', 'd81c01', 'd81d01', 'd83380']) {
      assert.throws(() => decode(Buffer.from(hex, 'hex')), /tag \d+ is not accepted/, hex);
    }
  });

  it('a length past the end is refused before anything is allocated', () => {
    assert.throws(() => decode(Buffer.from('9affffffff', 'hex')), /runs past the end/);
    assert.throws(() => decode(Buffer.from('5affffffff00', 'hex')), /runs past the end/);
    assert.throws(() => decode(Buffer.from('0102', 'hex')), /follow the CBOR value/);
  });

  it('reads what other encoders write: indefinite arrays and maps, float16, big-endian typed arrays', () => {
    assert.deepEqual(decode(Buffer.from('9f0102ff', 'hex')), [1, 2]);
    assert.deepEqual(decode(Buffer.from('bf61610cff', 'hex')), { a: 12 });
    assert.equal(decode(Buffer.from('f93e00', 'hex')), 1.5);
    assert.deepEqual(decode(Buffer.from('d8414400010100', 'hex')), new Uint16Array([1, 256]));
    assert.deepEqual(
      decode(Buffer.from('c074323032362d30312d30325430333a30343a30355a', 'hex')),
      new Date('2026-01-02T03:04:05Z'),
    );
  });
});
