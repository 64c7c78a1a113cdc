// A large List asked `parts` comes as ListParts and then its Reply (broker/list-parts.ts), read
// as they arrive (naming/list-parts.ts): the same entries, in the same order, as one Reply, and
// the table as it was when the List came, whatever the same connection asks right after it.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { connect } from 'runtable';
import { type Broker, startBroker } from '../../src/broker/broker.ts';
import { EntryRows } from '../../src/broker/entry-rows.ts';
import { LIST_PART_ROWS } from '../../src/broker/list-parts.ts';
import { reachBroker } from '../../src/naming/broker-start.ts';
import type { Entry } from '../../src/naming/entry.ts';
import { unpackPublicEntries } from '../../src/naming/entry-batch.ts';
import { ListInParts } from '../../src/naming/list-parts.ts';
import { Connection } from '../../src/wire/connection.ts';
import { type EntryBatch, Kind, type Message, type WireEntry } from '../../src/wire/protocol.ts';
import { tableToken } from '../../src/wire/token.ts';
import { cleanup, code, tempTableDir } from '../helpers.ts';

/** Five parts and a Reply. */
const COUNT = 5 * LIST_PART_ROWS + 321;
/** An owner of the entries put straight into the broker's table: no connection has this id. */
const OWNER = 1_000_000;

const monikers = Array.from({ length: COUNT }, (_, i) => `p/${String(i).padStart(5, '0')}`);

let dir: string;
let broker: Broker | undefined;

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  await broker?.close();
  broker = undefined;
  await cleanup(dir);
});

async function brokerHolding(): Promise<Broker> {
  const started = await startBroker({ dir, idleMs: 0 });
  for (const [i, moniker] of monikers.entries()) {
    started.table.register(OWNER + (i % 3), {
      moniker,
      pid: 4000 + (i % 3),
      endpoint: `/nowhere/${i % 3}`,
      object: i + 1,
      methods: i % 2 ? ['a', 'b'] : ['c'],
      metadata: i % 100 === 0 ? { n: i } : {},
      registeredAt: new Date(1_700_000_000_000 + i),
      changedAt: new Date(1_700_000_000_000 + i + 0.5),
    });
  }
  return started;
}

/** A raw connection to the broker, with every message that is not a reply. */
async function rawConnection(): Promise<{ connection: Connection; notices: Message[] }> {
  const transport = await reachBroker(dir, { autoStart: false, timeout: 2000 });
  const notices: Message[] = [];
  const connection = await Connection.connect(
    transport,
    { goneCode: 'TABLE_UNAVAILABLE', peerName: 'the broker', timeout: 5000, token: tableToken(dir) },
    () => ({ onMessage: (message) => notices.push(message), onClose: () => {} }),
  );
  return { connection, notices };
}

describe('a List in parts', () => {
  test('gives the entries of one Reply, in order, and a List without parts gets one Reply', async () => {
    broker = await brokerHolding();
    const { connection, notices } = await rawConnection();
    const table = await connect({ dir, autoStart: false });
    try {
      const whole = (await connection.request({ kind: Kind.List, prefix: 'p/' })) as unknown as EntryBatch;
      assert.equal(notices.length, 0, 'no part without the ask');
      assert.equal(whole.parts, undefined);
      const expected = unpackPublicEntries(whole);
      assert.equal(expected.length, COUNT);
      const listed = await table.list('p/');
      assert.deepStrictEqual(listed, expected);
      assert.deepEqual(
        listed.map((entry) => entry.moniker),
        monikers,
      );
      // Each entry its own values, across parts too.
      (listed[0] as { methods: string[] }).methods.push('x');
      assert.deepEqual(listed[2]?.methods, ['c']);

      const last = (await connection.request({ kind: Kind.List, prefix: 'p/', parts: true })) as unknown as EntryBatch;
      const parts = notices.filter((message) => message.kind === Kind.ListPart);
      assert.equal(last.parts, 5);
      const ids = new Set(parts.map((part) => part.kind === Kind.ListPart && part.id));
      assert.equal(ids.size, 1, "every part names the List's id");
      assert.deepEqual(
        parts.map((part) => part.kind === Kind.ListPart && part.value.part),
        [0, 1, 2, 3, 4],
      );
      // A small List is one Reply even when asked for parts.
      const small = (await connection.request({
        kind: Kind.List,
        prefix: 'p/0000',
        parts: true,
      })) as unknown as EntryBatch;
      assert.equal(small.parts, undefined);
      assert.equal(unpackPublicEntries(small).length, 10);
    } finally {
      connection.close();
      await table.close();
    }
  });

  test('what the same connection asks right after it is answered after it, on the table the List saw', async () => {
    broker = await brokerHolding();
    const { connection, notices } = await rawConnection();
    try {
      // Sent in one write: the broker reads the Register before the List's later parts are written.
      // Its moniker sorts among the first part's, so that it would shift every later row.
      const list = (parts: boolean) => connection.request({ kind: Kind.List, prefix: 'p/', parts });
      const [listed, registered, after] = await Promise.all([
        list(true),
        connection.request({
          kind: Kind.Register,
          moniker: 'p/00010a',
          endpoint: '/nowhere/raw',
          object: 1,
          methods: [],
          metadata: {},
        }),
        list(false),
      ]);
      assert.equal((registered as WireEntry).moniker, 'p/00010a');
      const entries: Entry[] = [];
      for (const part of notices) if (part.kind === Kind.ListPart) unpackPublicEntries(part.value, entries);
      unpackPublicEntries(listed, entries);
      assert.deepEqual(
        entries.map((entry) => entry.moniker),
        monikers,
      );
      assert.equal(unpackPublicEntries(after)[11]?.moniker, 'p/00010a');
    } finally {
      connection.close();
    }
  });
});

describe('reading a List in parts', () => {
  const rows = new EntryRows();
  const entry = (moniker: string): WireEntry => ({
    moniker,
    pid: 7,
    endpoint: '/tmp/rt-x/e.sock',
    object: 1,
    methods: ['m'],
    metadata: {},
    registeredAt: new Date(1_000),
    changedAt: new Date(2_000),
  });
  const batchOf = (...names: string[]) => rows.pack(names.map((name) => ({ owner: 1, entry: entry(name) })));
  const names = (entries: { moniker: string }[]) => entries.map((e) => e.moniker);

  test('puts parts that come out of turn, and a Reply that overtakes them, in order', async () => {
    const listing = new ListInParts();
    listing.add(1, batchOf('c', 'd'));
    const whole = listing.finish({ ...batchOf('e'), parts: 2 });
    listing.add(0, batchOf('a', 'b'));
    assert.deepEqual(names(await whole), ['a', 'b', 'c', 'd', 'e']);
  });

  test('refuses a part twice, more parts than the Reply counts, and a bad count', async () => {
    const twice = new ListInParts();
    twice.add(0, batchOf('a'));
    twice.add(0, batchOf('a'));
    await assert.rejects(twice.finish({ ...batchOf('b'), parts: 1 }), code('PROTOCOL'));
    const more = new ListInParts();
    more.add(0, batchOf('a'));
    await assert.rejects(more.finish({ ...batchOf('b'), parts: 0 }), code('PROTOCOL'));
    await assert.rejects(new ListInParts().finish({ ...batchOf('b'), parts: -1 }), code('PROTOCOL'));
    const bad = new ListInParts();
    bad.add(0, { owners: {}, rows: 'no' });
    await assert.rejects(bad.finish({ ...batchOf('b'), parts: 1 }), code('PROTOCOL'));
  });

  test('fails with TABLE_UNAVAILABLE when the broker goes while parts are still to come', async () => {
    const listing = new ListInParts();
    const whole = listing.finish({ ...batchOf('b'), parts: 1 });
    listing.lost();
    await assert.rejects(whole, code('TABLE_UNAVAILABLE'));
    const late = new ListInParts();
    late.lost();
    await assert.rejects(
      late.finish({ ...batchOf('b'), parts: 1 }),
      code('TABLE_UNAVAILABLE'),
      'lost before its Reply was read',
    );
    const whole2 = new ListInParts();
    whole2.lost();
    assert.deepEqual(names(await whole2.finish({ ...batchOf('b'), parts: 0 })), ['b'], 'nothing was still to come');
  });
});
