import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RuntableError } from '../../src/errors.ts';
import { decode, encode } from '../../src/wire/codec.ts';
import { Kind, PROTOCOL_VERSION } from '../../src/wire/protocol.ts';
import { toEntry, toMessage } from '../../src/wire/validate.ts';

function protocolError(error: unknown): true {
  assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
  assert.equal(error.code, 'PROTOCOL');
  assert.match(error.message, /malformed message/);
  return true;
}

const entry = () => ({
  moniker: 'X/a',
  pid: 1234,
  endpoint: '/tmp/rt-x/o1234-1.sock',
  object: 1,
  methods: ['add'],
  metadata: { k: 'v' },
  registeredAt: new Date(1),
  changedAt: new Date(2),
});

/** One well-formed message of every kind. */
const valid: Record<string, Record<string, unknown>> = {
  Hello: { kind: Kind.Hello, version: PROTOCOL_VERSION, pid: 10 },
  Welcome: { kind: Kind.Welcome, version: PROTOCOL_VERSION, pid: 10 },
  Register: {
    kind: Kind.Register,
    id: 1,
    moniker: 'X/a',
    endpoint: '/tmp/e.sock',
    object: 1,
    methods: ['a', 'b'],
    metadata: {},
    replace: true,
    registeredAt: new Date(1),
    changedAt: new Date(2),
  },
  Revoke: { kind: Kind.Revoke, id: 1, moniker: 'X/a' },
  List: { kind: Kind.List, id: 1, prefix: '' },
  ListNames: { kind: Kind.ListNames, id: 1, prefix: 'X/' },
  Lookup: { kind: Kind.Lookup, id: 1, moniker: 'X/a' },
  Touch: { kind: Kind.Touch, id: 1, moniker: 'X/a', metadata: { n: 1 } },
  Watch: { kind: Kind.Watch, id: 1, prefix: 'X/' },
  Unwatch: { kind: Kind.Unwatch, id: 2, watch: 1 },
  Status: { kind: Kind.Status, id: 1 },
  Activate: { kind: Kind.Activate, id: 1, moniker: 'X/a' },
  Services: { kind: Kind.Services, id: 1 },
  TableEvent: { kind: Kind.TableEvent, watch: 1, type: 'changed', entry: entry() },
  Lost: { kind: Kind.Lost, moniker: 'X/a' },
  Call: { kind: Kind.Call, id: 1, target: 1, method: 'add', args: [1, 2], stack: false },
  Invoke: {
    kind: Kind.Invoke,
    id: 2,
    ref: 1,
    method: '',
    args: [],
    trace: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'rt=1' },
  },
  Reply: { kind: Kind.Reply, id: 1, value: undefined },
  Failure: { kind: Kind.Failure, id: 0, error: { code: 'PROTOCOL', message: 'x' } },
};

/** [message kind, field overrides, what is wrong]: each must be refused. */
const invalid: [keyof typeof valid, Record<string, unknown>, string][] = [
  ['Hello', { version: '1' }, 'version as a string'],
  ['Hello', { version: -1 }, 'negative version'],
  ['Hello', { pid: 1.5 }, 'fractional pid'],
  ['Hello', { pid: undefined }, 'missing pid'],
  ['Welcome', { version: null }, 'null version'],
  ['Register', { id: '1' }, 'id as a string'],
  ['Register', { id: -3 }, 'negative id'],
  ['Register', { id: 2 ** 53 }, 'id beyond safe integers'],
  ['Register', { id: Number.NaN }, 'NaN id'],
  ['Register', { moniker: 42 }, 'moniker as a number'],
  ['Register', { endpoint: undefined }, 'missing endpoint'],
  ['Register', { object: 'one' }, 'object as a string'],
  ['Register', { methods: 'x' }, 'methods as a string'],
  ['Register', { methods: ['a', 1] }, 'a method name that is not a string'],
  ['Register', { methods: new Set(['a']) }, 'methods as a Set'],
  ['Register', { metadata: [] }, 'metadata as an array'],
  ['Register', { metadata: null }, 'null metadata'],
  ['Register', { metadata: new Map([[1, 2]]) }, 'metadata as a Map'],
  ['Register', { metadata: 'x' }, 'metadata as a string'],
  ['Register', { replace: 'yes' }, 'replace as a string'],
  ['Register', { registeredAt: 5 }, 'registeredAt as a number'],
  ['Register', { changedAt: new Date(Number.NaN) }, 'an invalid date'],
  ['Revoke', { moniker: null }, 'null moniker'],
  ['Activate', { moniker: 7 }, 'moniker as a number'],
  ['Activate', { id: undefined }, 'missing id'],
  ['Services', { id: 'x' }, 'id as a string'],
  ['List', { prefix: 42 }, 'prefix as a number'],
  ['List', { prefix: undefined }, 'missing prefix'],
  ['ListNames', { prefix: 42 }, 'prefix as a number'],
  ['ListNames', { id: undefined }, 'missing id'],
  ['Lookup', { moniker: ['X/a'] }, 'moniker as an array'],
  ['Touch', { metadata: 'x' }, 'metadata as a string'],
  ['Watch', { prefix: true }, 'prefix as a boolean'],
  ['Unwatch', { watch: 'w' }, 'watch as a string'],
  ['Status', { id: undefined }, 'missing id'],
  ['TableEvent', { type: 'exploded' }, 'unknown event type'],
  ['TableEvent', { entry: 'x' }, 'entry as a string'],
  ['TableEvent', { entry: { ...entry(), pid: 'p' } }, 'entry with a string pid'],
  ['TableEvent', { entry: { ...entry(), registeredAt: 1 } }, 'entry with a numeric date'],
  ['Lost', { moniker: 1 }, 'moniker as a number'],
  ['Call', { target: -1 }, 'negative target'],
  ['Call', { method: 7 }, 'method as a number'],
  ['Call', { args: 'x' }, 'args as a string'],
  ['Call', { args: { 0: 1 } }, 'args as a map'],
  ['Call', { args: undefined }, 'missing args'],
  ['Call', { stack: 1 }, 'stack as a number'],
  ['Call', { trace: 'traceparent' }, 'trace as a string'],
  ['Call', { trace: [] }, 'trace as an array'],
  ['Invoke', { trace: { traceparent: 1 } }, 'a trace value that is not text'],
  ['Invoke', { trace: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, ''])) }, 'nine trace entries'],
  ['Invoke', { trace: { tracestate: 'x'.repeat(8192) } }, 'trace over 8192 characters'],
  ['Reply', { id: 'r' }, 'id as a string'],
  ['Failure', { error: 'boom' }, 'error as a string'],
  ['Failure', { error: { message: 'no code' } }, 'error without a code'],
  ['Failure', { error: { code: 'PROTOCOL', message: 3 } }, 'error message as a number'],
];

describe('toMessage', () => {
  it('accepts one well-formed message of every kind, as it arrives off the wire', () => {
    for (const [name, message] of Object.entries(valid)) {
      const decoded = decode(encode(message));
      assert.deepStrictEqual(toMessage(decoded), decoded, name);
    }
  });

  it('accepts unknown extra fields and leaves optional fields out', () => {
    assert.doesNotThrow(() => toMessage({ ...valid.List, extra: 'ignored' }));
    assert.doesNotThrow(() =>
      toMessage({
        kind: Kind.Register,
        id: 1,
        moniker: 'm',
        endpoint: 'e',
        object: 0,
        methods: [],
        metadata: {},
      }),
    );
  });

  it('rejects values that are not maps', () => {
    for (const value of [null, undefined, 0, 1, 'hello', true, [], [Kind.List, 1, ''], new Map([['kind', 12]])]) {
      assert.throws(() => toMessage(value), protocolError, `value ${String(value)}`);
    }
    for (const bytes of [encode(12), encode('List'), encode([12, 1, '']), encode(null)]) {
      assert.throws(() => toMessage(decode(bytes)), protocolError);
    }
  });

  it('rejects unknown or missing kinds', () => {
    for (const kind of [0, 3, 29, 99, 1000, -1, 1.5, '12', null, undefined, Number.NaN]) {
      assert.throws(
        () => toMessage({ kind, id: 1, prefix: '' }),
        (error: unknown) => protocolError(error) && /unknown kind/.test((error as Error).message),
        `kind ${String(kind)}`,
      );
    }
    assert.throws(() => toMessage({ id: 1 }), protocolError);
  });

  it('does not let a __proto__ key off the wire supply the kind', () => {
    const bytes = encode({ ['__proto__']: { kind: Kind.Status }, id: 1 });
    const decoded = decode(bytes);
    assert.throws(() => toMessage(decoded), protocolError);
    assert.equal(({} as Record<string, unknown>).kind, undefined, 'Object.prototype untouched');
  });

  for (const [name, overrides, what] of invalid) {
    it(`rejects ${name} with ${what}`, () => {
      const message = { ...valid[name], ...overrides };
      assert.throws(() => toMessage(message), protocolError);
    });
  }
});

describe('toEntry', () => {
  it('accepts a well-formed entry', () => {
    assert.deepStrictEqual(toEntry(entry()), entry());
  });

  it('rejects malformed entries', () => {
    assert.throws(() => toEntry(null), protocolError);
    assert.throws(() => toEntry({ ...entry(), methods: 'add' }), protocolError);
    assert.throws(() => toEntry({ ...entry(), changedAt: '2020-01-01' }), protocolError);
    assert.throws(() => toEntry({ ...entry(), object: -1 }), protocolError);
  });
});
