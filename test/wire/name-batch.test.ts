// NameBatch, the answer to ListNames: the broker's writer gives the codec's bytes for the same
// array of names, the client's one-pass reader gives the names back, names in any other valid
// encoding are read the generic way, and anything malformed is refused with PROTOCOL.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encode as cborX } from 'cbor-x';
import { writeNames } from '../../src/broker/name-rows.ts';
import { ObjectTable } from '../../src/broker/table.ts';
import { RuntableError } from '../../src/errors.ts';
import { readNames } from '../../src/naming/entry-rows-reader.ts';
import { unpackNames } from '../../src/naming/name-batch.ts';
import { decode, encode } from '../../src/wire/codec.ts';

function protocolError(error: unknown): true {
  assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
  assert.equal(error.code, 'PROTOCOL');
  return true;
}

/** Every head size of a name (1 to 512 bytes) and of the array, ASCII and not. */
const NAMES = [
  'a',
  'x'.repeat(23),
  'x'.repeat(24),
  'y'.repeat(255),
  'y'.repeat(256),
  'z'.repeat(512),
  'é',
  'Names/日本',
  'Names/😀',
  `${'w'.repeat(20)}é`,
];

const batchOf = (names: string[]) => writeNames(names, [...names.keys()], 0, names.length);

describe('name batches', () => {
  it('are written as the codec encodes the same array of names', () => {
    for (const names of [[], NAMES, Array.from({ length: 300 }, (_, i) => `M/${i}`)]) {
      assert.deepEqual(Buffer.from(batchOf(names).names), Buffer.from(encode(names)));
    }
    const many = Array.from({ length: 70_000 }, (_, i) => `N/${i}`);
    assert.deepEqual(Buffer.from(batchOf(many).names), Buffer.from(encode(many)), 'a count past 2^16');
  });

  it('are read in one pass as the broker writes them, and round-trip through the codec', () => {
    assert.deepEqual(readNames(batchOf(NAMES).names), NAMES);
    assert.deepEqual(readNames(batchOf([]).names), []);
    assert.deepEqual(unpackNames(decode(encode(batchOf(NAMES)))), NAMES);
  });

  it('in another valid encoding are read the generic way', () => {
    // Indefinite lengths, and a name in a non-shortest head: valid CBOR the reader leaves to decode().
    const indefinite = Uint8Array.from([0x9f, 0x61, 0x61, 0x62, 0x62, 0x63, 0xff]);
    assert.equal(readNames(indefinite), undefined);
    assert.deepEqual(unpackNames({ names: indefinite }), ['a', 'bc']);
    const longHead = Uint8Array.from([0x81, 0x78, 0x01, 0x61]);
    assert.deepEqual(unpackNames({ names: longHead }), ['a']);
    // A Buffer rather than a Uint8Array (cbor-x's own form), as another peer might send it.
    assert.deepEqual(unpackNames({ names: Buffer.from(cborX(['x', 'y'])) }), ['x', 'y']);
  });

  it('refuse whatever is malformed', () => {
    for (const value of [null, 'names', {}, { names: 'a' }, { names: [1] }]) {
      assert.throws(() => unpackNames(value), protocolError, String(value));
    }
    const bad = [
      encode(['a', 1]),
      encode({ a: 'b' }),
      encode('a'),
      Uint8Array.from([0x82, 0x61, 0x61]), // two names announced, one there
      Uint8Array.from([0x81, 0x65, 0x61]), // a name cut short
      Uint8Array.from([0x9a, 0xff, 0xff, 0xff, 0xff]), // a count beyond the bytes
      Uint8Array.from([0x81, 0x61, 0x61, 0x61]), // bytes after the array
    ];
    for (const names of bad) {
      assert.equal(readNames(names), undefined, Buffer.from(names).toString('hex'));
      assert.throws(() => unpackNames({ names }), protocolError, Buffer.from(names).toString('hex'));
    }
  });

  it('from the table are the monikers under the prefix, in list order', () => {
    const table = new ObjectTable();
    const monikers = ['B/a', 'A/b', 'A/a', 'A/é', 'A/😀', 'A/～', 'A', 'AB/x'];
    for (const [i, moniker] of monikers.entries()) {
      const at = new Date(1_000);
      table.register(1, {
        moniker,
        pid: 1001,
        endpoint: '/tmp/x.sock',
        object: i + 1,
        methods: [],
        metadata: {},
        registeredAt: at,
        changedAt: at,
      });
    }
    const names = (prefix: string) => readNames(table.packNames(prefix).names);
    for (const prefix of ['', 'A', 'A/', 'A/a', 'B/', 'C/', 'A/😀']) {
      assert.deepEqual(
        names(prefix),
        table.list(prefix).map((entry) => entry.moniker),
        `prefix ${prefix}`,
      );
    }
    assert.deepEqual(names('A/'), ['A/a', 'A/b', 'A/é', 'A/😀', 'A/～']);
    table.revokeOwner(1);
    assert.deepEqual(names(''), []);
  });
});
