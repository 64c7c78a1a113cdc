// NameBatch, the answer to ListNames: the broker joins the monikers of a prefix by NUL, the client
// splits them back, through the codec, for ASCII and other monikers, none, one or many; anything
// else is refused with PROTOCOL; and the table's own names are those of its list, in its order.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinNames } from '../../src/broker/name-rows.ts';
import { ObjectTable } from '../../src/broker/table.ts';
import { RuntableError } from '../../src/errors.ts';
import { unpackNames } from '../../src/naming/name-batch.ts';
import { decode, encode } from '../../src/wire/codec.ts';

function protocolError(error: unknown): true {
  assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
  assert.equal(error.code, 'PROTOCOL');
  return true;
}

const NAMES = ['a', 'x'.repeat(512), 'é', 'Names/日本', 'Names/😀', 'Names/ ', '/'];

const batchOf = (names: string[]) => joinNames(names, [...names.keys()], 0, names.length);
/** Through the codec, as the broker sends it and the client reads it. */
const roundTrip = (names: string[]) => unpackNames(decode(encode(batchOf(names))));

describe('name batches', () => {
  it('carry the monikers as one text joined by NUL, and give them back', () => {
    assert.deepEqual(batchOf(['A/a', 'A/b']), { names: 'A/a\u0000A/b' });
    for (const names of [[], ['only'], NAMES, Array.from({ length: 70_000 }, (_, i) => `N/${i}`)]) {
      assert.deepEqual(roundTrip(names), names);
    }
    assert.deepEqual(unpackNames({ names: '' }), [], 'an empty text is no name, not one empty name');
  });

  it('join the run of the sorted index they are given, in its order', () => {
    const monikers = ['c', 'a', 'b', 'd'];
    assert.deepEqual(joinNames(monikers, [1, 2, 0, 3], 1, 3), { names: 'b\u0000c' });
    assert.deepEqual(joinNames(monikers, [1, 2, 0, 3], 2, 2), { names: '' });
  });

  it('refuse whatever is malformed', () => {
    for (const value of [
      null,
      undefined,
      'names',
      7,
      {},
      { names: 1 },
      { names: ['a'] },
      { names: new Uint8Array(1) },
    ]) {
      assert.throws(() => unpackNames(value), protocolError, String(value));
    }
  });

  it('from the table are the monikers under the prefix, in list order', () => {
    const table = new ObjectTable();
    const at = new Date(1_000);
    const monikers = ['B/a', 'A/b', 'A/a', 'A/é', 'A/😀', 'A/～', 'A', 'AB/x'];
    for (const [i, moniker] of monikers.entries()) {
      const entry = { moniker, pid: 1001, endpoint: '/tmp/x.sock', object: i + 1, methods: [], metadata: {} };
      table.register(1, { ...entry, registeredAt: at, changedAt: at });
    }
    const names = (prefix: string) => unpackNames(table.packNames(prefix));
    for (const prefix of ['', 'A', 'A/', 'A/a', 'B/', 'C/', 'A/😀']) {
      assert.deepEqual(
        names(prefix),
        table.list(prefix).map((entry) => entry.moniker),
        `prefix ${prefix}`,
      );
    }
    // UTF-16 code-unit order: U+1F600 (a surrogate pair, D83D) before U+FF5E.
    assert.deepEqual(names('A/'), ['A/a', 'A/b', 'A/é', 'A/😀', 'A/～']);
    table.revoke(1, 'A/b');
    assert.deepEqual(names('A/'), ['A/a', 'A/é', 'A/😀', 'A/～'], 'a revoked moniker leaves');
    table.revokeOwner(1);
    assert.deepEqual(names(''), []);
  });
});
