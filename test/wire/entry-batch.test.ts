import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { EntryRows } from '../../src/broker/entry-rows.ts';
import { RuntableError } from '../../src/errors.ts';
import type { Entry } from '../../src/naming/entry.ts';
import { unpackEntries, unpackPublicEntries } from '../../src/naming/entry-batch.ts';
import { readRows } from '../../src/naming/entry-rows-reader.ts';
import { decode, encode } from '../../src/wire/codec.ts';
import type { WireEntry } from '../../src/wire/protocol.ts';

function protocolError(error: unknown): true {
  assert.ok(error instanceof RuntableError, `expected a RuntableError, got ${String(error)}`);
  assert.equal(error.code, 'PROTOCOL');
  return true;
}

const shared = ['add', 'sub'];
function entry(moniker: string, pid: number, object: number, extra: Partial<WireEntry> = {}): WireEntry {
  return {
    moniker,
    pid,
    endpoint: `/tmp/rt-x/o${pid}-1.sock`,
    object,
    methods: shared,
    metadata: {},
    registeredAt: new Date(1_700_000_000_123),
    changedAt: new Date(1_700_000_000_456),
    ...extra,
  };
}

/** Each pid its own control connection, as with real owners. */
const pack = (entries: WireEntry[], rows = new EntryRows()) =>
  rows.pack(entries.map((entry) => ({ owner: entry.pid, entry })));

/** Through the codec, as the broker sends it. */
const roundTrip = (entries: WireEntry[]) => unpackEntries(decode(encode(pack(entries))));

describe('entry batches', () => {
  it('round-trip entries with every field, in order', () => {
    const entries = [
      entry('A/1', 10, 1),
      entry('A/2', 10, 2, { metadata: { role: 'primary', n: 3 } }),
      entry('B/1', 20, 1, { methods: ['ping'] }),
      entry('B/2', 20, 5, { methods: [] }),
    ];
    assert.deepStrictEqual(roundTrip(entries), entries);
    assert.deepStrictEqual(roundTrip([]), []);
  });

  it('send each owner and each of its method lists once', () => {
    const batch = pack([
      entry('A/1', 10, 1),
      entry('A/2', 10, 2, { methods: ['add', 'sub'] }),
      entry('A/3', 10, 3, { methods: ['ping'] }),
      entry('B/1', 20, 1),
    ]);
    assert.deepStrictEqual(Object.values(batch.owners), [
      [10, '/tmp/rt-x/o10-1.sock', [shared, ['ping']]],
      [20, '/tmp/rt-x/o20-1.sock', [shared]],
    ]);
    const rows = decode(batch.rows) as unknown[][];
    assert.deepStrictEqual(
      rows.map((row) => row.length),
      [6, 6, 6, 6],
      'empty metadata is left out',
    );
  });

  it('write rows as the codec encodes the same array of rows', () => {
    const entries = [
      entry('A/1', 10, 1),
      entry('A/é/日本/🎉', 10, 2, { metadata: { role: 'primary', nested: { list: [1, 'two'] } } }),
      entry(`A/${'x'.repeat(300)}`, 10, 70_000),
      entry('B/old', 20, 23, { registeredAt: new Date(0), changedAt: new Date(2 ** 32) }),
      entry('B/older', 20, 24, { registeredAt: new Date(-1), changedAt: new Date(-(2 ** 31) - 5) }),
      entry('B/oldest', 20, 255, { registeredAt: new Date(-1e13), changedAt: new Date(1_000.5) }),
    ];
    const batch = pack(entries);
    const owners = new Map(Object.entries(batch.owners).map(([key, [pid]]) => [pid, Number(key)]));
    const expected = entries.map((e) => {
      const row: unknown[] = [e.moniker, owners.get(e.pid), e.object, e.methods === shared ? 0 : 1];
      row.push(e.registeredAt.getTime(), e.changedAt.getTime());
      if (Object.keys(e.metadata).length > 0) row.push(e.metadata);
      return row;
    });
    assert.deepStrictEqual(Buffer.from(batch.rows), Buffer.from(encode(expected)));
    assert.deepStrictEqual(roundTrip(entries), entries);
  });

  it('read rows as the broker writes them in one pass, and rows in other encodings the generic way', () => {
    const entries = [
      entry('A/1', 10, 1),
      entry('A/ünï', 10, 300, { metadata: { role: 'primary', tags: ['x', 'y'], deep: { n: -1.5 } } }),
      entry(`A/${'long/'.repeat(40)}`, 10, 2),
      entry('B/1', 20, 1, { registeredAt: new Date(5), changedAt: new Date(70_000) }),
    ];
    const batch = pack(entries);
    const owners = new Map(Object.entries(batch.owners).map(([key, owner]) => [Number(key), owner]));
    const fields = (...row: unknown[]) => row;
    const read: unknown[][] = [];
    assert.ok(readRows(batch.rows, owners, fields, read), 'the broker-written rows are read directly');
    assert.deepStrictEqual(
      read.map((row) => row[0]),
      entries.map((e) => e.moniker),
    );
    // The same rows as an indefinite-length array, a date as a float32, an owner as a uint64:
    // CBOR this reader leaves to the generic decode, which reads or refuses it.
    const rows = decode(batch.rows) as unknown[][];
    const indefinite = Buffer.concat([
      Buffer.of(0x9f),
      ...rows.map((row) => Buffer.from(encode(row))),
      Buffer.of(0xff),
    ]);
    const plain = Buffer.from(encode(rows));
    const dates = Buffer.from(encode([5, 70_000])).subarray(1);
    const at = plain.indexOf(dates);
    assert.ok(at > 0);
    // 5 as a float32 (fa 40a00000), then 70,000 as it was.
    const float32 = Buffer.concat([plain.subarray(0, at), Buffer.of(0xfa, 0x40, 0xa0, 0, 0), plain.subarray(at + 1)]);
    const key = [...owners.keys()][0] as number;
    // [['A/1', key, ...]]: the key's byte is at 6 (array, row, text head, three letters).
    const one = Buffer.from(encode([['A/1', key, 1, 0, 5, 6]]));
    const wide = Buffer.concat([one.subarray(0, 6), Buffer.of(0x1b, 0, 0, 0, 0, 0, 0, 0, key), one.subarray(7)]);
    for (const bytes of [indefinite, float32, wide]) {
      const kept = [['earlier']];
      assert.equal(readRows(bytes, owners, fields, kept), false);
      assert.deepStrictEqual(kept, [['earlier']], 'what was appended before the rows gave up is gone');
    }
    const generic = (bytes: Uint8Array) => unpackEntries({ owners: batch.owners, rows: bytes });
    assert.deepStrictEqual(generic(indefinite), entries);
    assert.deepStrictEqual(generic(float32), entries);
    // A uint64 decodes as a bigint, which no row may hold: the generic check names it.
    assert.throws(() => generic(wide), protocolError);
    assert.deepStrictEqual(generic(batch.rows), entries);
  });

  it('read monikers of every length, ASCII or not, as they were', () => {
    // Each length is read its own way up to 24 bytes (short-strings.ts, naming/medium-ascii.ts).
    const monikers: string[] = [];
    for (let length = 1; length <= 40; length++) {
      monikers.push(`A/${'abcdefghijklmnopqrstuvwxyz0123456789~!@#$'.slice(0, length)}`.slice(0, length + 2));
      monikers.push(`B/${'é'.repeat(length)}`);
    }
    monikers.sort();
    const entries = monikers.map((moniker, i) => entry(moniker, 10, i + 1));
    assert.deepStrictEqual(roundTrip(entries), entries);
  });

  it('pack the same entries to the same batch, and a changed entry as it now is', () => {
    const rows = new EntryRows();
    const first = entry('A/1', 10, 1);
    const before = pack([first], rows);
    const again = pack([first], rows);
    assert.deepStrictEqual(again, before);
    const touched = { ...first, changedAt: new Date(1_800_000_000_000), metadata: { n: 1 } };
    assert.deepStrictEqual(unpackEntries(decode(encode(pack([touched], rows)))), [touched]);
  });

  it('give users entries without the endpoint, each with its own method array', () => {
    const batch = decode(encode(pack([entry('A/1', 10, 1), entry('A/2', 10, 2)])));
    const [a, b] = unpackPublicEntries(batch);
    assert.deepStrictEqual(a, {
      moniker: 'A/1',
      pid: 10,
      methods: shared,
      metadata: {},
      registeredAt: new Date(1_700_000_000_123),
      changedAt: new Date(1_700_000_000_456),
    });
    assert.notEqual(a?.methods, b?.methods);
  });

  it('give users entries that are plain values: JSON, spread, inspect, structuredClone, assignment', () => {
    const batch = decode(encode(pack([entry('A/1', 10, 1, { metadata: { n: 1 } }), entry('A/2', 10, 2)])));
    const [a, b] = unpackPublicEntries(batch) as [Entry, Entry];
    const plain = {
      moniker: 'A/1',
      pid: 10,
      methods: ['add', 'sub'],
      metadata: { n: 1 },
      registeredAt: new Date(1_700_000_000_123),
      changedAt: new Date(1_700_000_000_456),
    };
    assert.equal(Object.getPrototypeOf(a), Object.prototype);
    for (const key of Object.keys(plain)) {
      const own = Object.getOwnPropertyDescriptor(a, key);
      assert.ok(own && 'value' in own && own.enumerable && own.writable, `${key} is an own data property`);
    }
    assert.deepStrictEqual(a, plain);
    assert.deepStrictEqual({ ...a }, plain);
    assert.deepStrictEqual(structuredClone(a), plain);
    assert.equal(JSON.stringify(a), JSON.stringify(plain));
    assert.equal(inspect(a, { depth: 4 }), inspect(plain, { depth: 4 }));
    // Each entry's values are its own: changing one leaves the other and the batch alone.
    a.methods.push('mul');
    a.registeredAt.setTime(0);
    a.changedAt = new Date(5);
    assert.deepStrictEqual(b.methods, ['add', 'sub']);
    assert.equal(b.registeredAt.getTime(), 1_700_000_000_123);
    assert.equal(unpackPublicEntries(batch)[0]?.registeredAt.getTime(), 1_700_000_000_123);
    assert.notEqual(a.registeredAt, a.changedAt);
  });

  it('tell apart owners that reused an endpoint path under another pid', () => {
    const entries = [entry('A/1', 10, 1), { ...entry('A/2', 11, 1), endpoint: '/tmp/rt-x/o10-1.sock' }];
    assert.deepStrictEqual(
      roundTrip(entries).map((e) => e.pid),
      [10, 11],
    );
    const rows = new EntryRows();
    const one = (pid: number) => ({ owner: 1, entry: { ...entry(`A/${pid}`, pid, 1), endpoint: '/e' } });
    const batch = rows.pack([one(10), one(11)]);
    assert.deepStrictEqual(
      Object.values(batch.owners).map(([pid]) => pid),
      [10, 11],
      'one connection that sends two pids for one path',
    );
  });

  it('reject whatever is malformed, naming it', () => {
    const batch = (rows: unknown, owners: unknown = { 3: [10, '/e', [['add']]] }) =>
      decode(encode({ owners, rows: rows instanceof Uint8Array ? rows : encode(rows) }));
    assert.equal(unpackEntries(batch([['A/1', 3, 1, 0, 5, 6]])).length, 1);
    const good = [['A/1', 3, 1, 0, 5, 6]];
    const bad: unknown[] = [
      null,
      [],
      { owners: {} },
      batch(good, []),
      batch(good, { 3: [-1, '/e', [['add']]] }),
      batch(good, { 3: ['10', '/e', [['add']]] }),
      batch(good, { 3: [10, '/e', [[1]]] }),
      batch(good, { 3: [10, '/e'] }),
      batch({ rows: good }),
      batch(Uint8Array.of(0x9f)),
      batch([['A/1', 4, 1, 0, 5, 6]]),
      batch([['A/1', 3, 1, 1, 5, 6]]),
      batch([['A/1', 3, -1, 0, 5, 6]]),
      batch([['A/1', 3, 1, 0, 'x', 6]]),
      batch([['A/1', 3, 1, 0, 5, Number.NaN]]),
      batch([['A/1', 3, 1, 0, 5, 6, new Date()]]),
      batch([['A/1', 3, 1, 0, 5, 6, {}, 'extra']]),
      batch([[7, 3, 1, 0, 5, 6]]),
      batch(['A/1']),
    ];
    for (const value of bad) assert.throws(() => unpackEntries(value), protocolError);
  });
});
