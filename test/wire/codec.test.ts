import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode } from '../../src/wire/codec.ts';

function roundTrip<T>(value: T): T {
  return decode(encode(value)) as T;
}

/** Round-trips and asserts deep equality including prototypes; returns the decoded value. */
function same<T>(value: T): T {
  const back = roundTrip(value);
  assert.deepStrictEqual(back, value);
  return back;
}

/** Every own property reachable from `value`'s enumerable keys has the same constructor on both sides. */
function sameConstructors(original: unknown, back: unknown, where = 'value'): void {
  if (original === null || typeof original !== 'object') return;
  assert.equal(
    (back as object).constructor,
    (original as object).constructor,
    `${where}: expected ${(original as object).constructor.name}, got ${(back as object)?.constructor?.name}`,
  );
  if (ArrayBuffer.isView(original)) return;
  if (original instanceof Map) {
    const backEntries = [...(back as Map<unknown, unknown>).entries()];
    [...original.entries()].forEach(([key, value], i) => {
      sameConstructors(key, backEntries[i]?.[0], `${where} key ${i}`);
      sameConstructors(value, backEntries[i]?.[1], `${where} value ${i}`);
    });
    return;
  }
  if (original instanceof Set) {
    const backItems = [...(back as Set<unknown>)];
    [...original].forEach((item, i) => {
      sameConstructors(item, backItems[i], `${where} item ${i}`);
    });
    return;
  }
  for (const key of Object.keys(original)) {
    sameConstructors(
      (original as Record<string, unknown>)[key],
      (back as Record<string, unknown>)[key],
      `${where}.${key}`,
    );
  }
}

function exact<T>(value: T): T {
  const back = same(value);
  sameConstructors(value, back);
  return back;
}

describe('codec: JSON values', () => {
  it('round-trips scalars', () => {
    for (const value of [null, true, false, 0, 1, -1, 23, 24, 255, 256, 65_536, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1]) {
      exact(value);
    }
    for (const value of [0.5, -1.25, 1e300, -1e-300, Math.PI, 0.1]) exact(value);
    for (const value of ['', 'a', 'héllo wörld', '日本語', '🎉 emoji', 'x'.repeat(100_000), '\u0000\n\t']) exact(value);
  });

  it('round-trips nested objects and arrays', () => {
    exact({
      a: 1,
      b: 'two',
      c: [1, 'x', null, true, { d: [[], {}] }],
      nested: { deeper: { deepest: { list: [1.5, -2, 'z'] } } },
      'key with spaces': 'v',
      '': 'empty key',
    });
    exact([]);
    exact({});
    exact(Array.from({ length: 1000 }, (_, i) => ({ i, s: String(i) })));
  });
});

describe('codec: undefined', () => {
  it('round-trips undefined at top level', () => {
    assert.equal(roundTrip(undefined), undefined);
  });

  it('keeps undefined as a value inside objects and arrays (the key stays present)', () => {
    const back = exact({ a: undefined, b: [undefined, 1, undefined], c: { d: undefined } });
    assert.ok(Object.hasOwn(back, 'a'));
    assert.equal(back.b.length, 3);
    assert.ok(Object.hasOwn(back.c, 'd'));
    const array = exact([undefined]);
    assert.equal(array.length, 1);
  });

  it('keeps undefined distinct from null', () => {
    const back = roundTrip({ u: undefined, n: null });
    assert.equal(back.u, undefined);
    assert.equal(back.n, null);
  });
});

describe('codec: Date', () => {
  it('round-trips dates to the millisecond', () => {
    for (const ms of [
      0, 1, 999, 1_700_000_000_123, 1_700_000_000_000, -1, -123_456_789, 253_402_300_799_999, 8.64e15,
    ]) {
      const back = exact(new Date(ms));
      assert.ok(back instanceof Date);
      assert.equal(back.getTime(), ms);
    }
  });

  it('round-trips many random millisecond timestamps exactly', () => {
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor((Math.random() - 0.3) * 2 ** 44);
      assert.equal(roundTrip(new Date(ms)).getTime(), ms, `timestamp ${ms}`);
    }
  });

  it('round-trips dates inside structures', () => {
    exact({ at: new Date(1_234_567_890_123), list: [new Date(5), new Date(-5)] });
  });
});

describe('codec: Map and Set', () => {
  it('round-trips a Map with string keys as a Map, not an object', () => {
    const back = exact(new Map([['a', 1]]));
    assert.ok(back instanceof Map);
  });

  it('round-trips Maps with non-string keys', () => {
    exact(
      new Map<unknown, unknown>([
        [1, 'one'],
        [2.5, 'two and a half'],
        [true, 'yes'],
        [null, 'nothing'],
        [-7, [1, 2]],
        [10n, 'bigint key'],
      ]),
    );
    const objectKeys = exact(
      new Map<unknown, unknown>([
        [{ k: 1 }, 'object key'],
        [[1, 2], 'array key'],
      ]),
    );
    assert.equal(objectKeys.size, 2);
    // Keys 1 and '1' stay distinct.
    const mixed = exact(
      new Map<unknown, unknown>([
        [1, 'number'],
        ['1', 'string'],
      ]),
    );
    assert.equal(mixed.get(1), 'number');
    assert.equal(mixed.get('1'), 'string');
  });

  it('round-trips nested Maps', () => {
    exact(
      new Map<unknown, unknown>([
        ['inner', new Map<unknown, unknown>([[1, new Map([[2, 'deep']])]])],
        [3, { obj: new Map([[4, 5]]) }],
        [new Map([[6, 7]]), 'map as key'],
      ]),
    );
    exact({ m: new Map(), list: [new Map([[1, 1]])] });
  });

  it('round-trips Sets', () => {
    const back = exact(new Set<unknown>([1, 'a', null, { x: 1 }, [2]]));
    assert.ok(back instanceof Set);
    exact(new Set());
    exact({ s: new Set([new Set([1]), new Map([[1, new Set(['x'])]])]) });
  });
});

describe('codec: BigInt', () => {
  it('round-trips small, negative and huge BigInts as BigInts', () => {
    const values = [
      0n,
      5n,
      -5n,
      1n,
      -1n,
      2n ** 53n,
      2n ** 63n,
      2n ** 64n - 1n,
      -(2n ** 64n),
      2n ** 64n,
      2n ** 200n + 12345n,
    ];
    for (const value of values) {
      const back = roundTrip(value);
      assert.equal(typeof back, 'bigint', `${value} came back as ${typeof back}`);
      assert.equal(back, value);
    }
    assert.equal(roundTrip(-(2n ** 130n) - 1n), -(2n ** 130n) - 1n);
  });

  it('keeps a BigInt distinct from a number of the same value', () => {
    const back = roundTrip({ big: 5n, num: 5 });
    assert.equal(typeof back.big, 'bigint');
    assert.equal(typeof back.num, 'number');
  });
});

describe('codec: binary', () => {
  it('keeps a Uint8Array a Uint8Array (not a Buffer)', () => {
    const value = new Uint8Array([0, 1, 2, 254, 255]);
    const back = exact(value);
    assert.equal(Object.getPrototypeOf(back), Uint8Array.prototype);
    assert.equal(Buffer.isBuffer(back), false);
    exact(new Uint8Array(0));
  });

  it('keeps a Buffer a Buffer', () => {
    const back = exact(Buffer.from('some bytes'));
    assert.ok(Buffer.isBuffer(back));
    exact({ nested: [Buffer.from([1, 2, 3])] });
  });

  it('round-trips every typed array kind with its class', () => {
    const values = [
      new Int8Array([-128, 0, 127]),
      new Uint8ClampedArray([0, 128, 255]),
      new Int16Array([-32_768, 1, 32_767]),
      new Uint16Array([0, 65_535]),
      new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
      new Uint32Array([0, 2 ** 32 - 1]),
      new Float32Array([1.5, -0.25, Number.POSITIVE_INFINITY]),
      new Float64Array([Math.PI, -1e300, Number.NaN]),
      new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
      new BigUint64Array([0n, 2n ** 64n - 1n]),
    ];
    for (const value of values) exact(value);
    // Inside a structure, at offsets that are not aligned for the element size.
    exact({
      a: 'x',
      f64: new Float64Array([1.5, -2]),
      b: 'yy',
      i32: new Int32Array([7]),
      u16: new Uint16Array([9, 10]),
    });
  });

  it('sends binary as binary: 1 MiB of bytes encodes to less than 1 MiB + 16 bytes', () => {
    const bytes = new Uint8Array(1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13) & 0xff;
    const encoded = encode(bytes);
    assert.ok(encoded.length < bytes.length + 16, `encoded to ${encoded.length} bytes`);
    exact(bytes);
    const floats = new Float64Array(128 * 1024);
    assert.ok(encode(floats).length < floats.byteLength + 16, 'a Float64Array is sent as its bytes');
    assert.ok(encode({ data: Buffer.alloc(1024 * 1024) }).length < 1024 * 1024 + 32, 'a Buffer is sent as its bytes');
  });
});

describe('codec: Error', () => {
  type CodedError = Error & { code?: unknown };

  function checkError(back: unknown, original: CodedError): void {
    assert.ok(back instanceof Error, 'decodes to an Error');
    const error = back as CodedError;
    assert.equal(error.name, original.name);
    assert.equal(error.message, original.message);
    assert.equal(error.code, original.code);
    assert.equal(error.stack, original.stack);
  }

  it('keeps name, message, code and stack', () => {
    const original: CodedError = new TypeError('bad type');
    original.code = 'E_BAD_TYPE';
    checkError(roundTrip(original), original);
    const plain = new Error('plain');
    const back = roundTrip(plain) as CodedError;
    checkError(back, plain);
    assert.equal(Object.hasOwn(back, 'code'), false, 'no code when the original had none');
  });

  it('keeps a custom name and a non-string code', () => {
    const original: CodedError = new Error('custom');
    original.name = 'ValidationError';
    original.code = 42;
    checkError(roundTrip(original), original);
  });

  it('keeps a nested cause chain, including a non-Error cause at the end', () => {
    const root: CodedError = new RangeError('root cause', { cause: { detail: [1, 2], when: new Date(7) } });
    root.code = 'E_ROOT';
    const middle = new Error('middle', { cause: root });
    const top: CodedError = new TypeError('top', { cause: middle });
    top.code = 'E_TOP';
    const back = roundTrip(top) as CodedError;
    checkError(back, top);
    checkError(back.cause, middle);
    checkError((back.cause as Error).cause, root);
    assert.deepStrictEqual(((back.cause as Error).cause as Error).cause, { detail: [1, 2], when: new Date(7) });
  });

  it('round-trips errors inside structures', () => {
    const original = { ok: false, errors: [new Error('one'), new SyntaxError('two')] };
    const back = roundTrip(original);
    assert.equal(back.ok, false);
    checkError(back.errors[0], original.errors[0] as Error);
    checkError(back.errors[1], original.errors[1] as Error);
  });
});
