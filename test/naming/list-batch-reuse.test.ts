// The broker writes each List into one batch buffer that its reply sends as it is, not copied
// (broker/table.ts pack): a second List, or a watch's snapshot, asked for while a first reply is
// still being written must not overwrite the rows that reply is still sending.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { connect } from 'runtable';
import { type Broker, startBroker } from '../../src/broker/broker.ts';
import { cleanup, tempTableDir } from '../helpers.ts';

/** Entries per prefix: their rows (about 40 bytes each) are well past the encoder's SPLIT_BYTES. */
const PER_PREFIX = 3000;
/** An owner of the entries put straight into the broker's table: no connection has this id. */
const OWNER = 1_000_000;

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

/** Monikers of the same length under each prefix, so that the rows of one overlay the other's. */
function monikers(prefix: string): string[] {
  return Array.from({ length: PER_PREFIX }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);
}

async function brokerHolding(prefixes: string[]): Promise<Broker> {
  const started = await startBroker({ dir, idleMs: 0 });
  const now = new Date();
  for (const prefix of prefixes) {
    for (const moniker of monikers(prefix)) {
      started.table.register(OWNER, {
        moniker,
        pid: process.pid,
        endpoint: `/nowhere/${prefix}`,
        object: 1,
        methods: [`of${prefix.slice(0, 1)}`],
        metadata: {},
        registeredAt: now,
        changedAt: now,
      });
    }
  }
  return started;
}

test('Lists sent together are each answered with their own rows', async () => {
  broker = await brokerHolding(['a/', 'b/', 'c/']);
  const table = await connect({ dir, autoStart: false });
  try {
    // Sent in one write: the broker packs the second and third while the first reply is queued.
    const lists = await Promise.all(['a/', 'b/', 'c/', 'a/'].map((prefix) => table.list(prefix)));
    for (const [i, prefix] of ['a/', 'b/', 'c/', 'a/'].entries()) {
      const entries = lists[i] ?? [];
      assert.deepEqual(
        entries.map((entry) => entry.moniker),
        monikers(prefix),
      );
      assert.ok(entries.every((entry) => entry.methods[0] === `of${prefix.slice(0, 1)}`));
    }
    // Once the replies have left, the next List is right too.
    assert.deepEqual(
      (await table.list('b/')).map((entry) => entry.moniker),
      monikers('b/'),
    );
  } finally {
    await table.close();
  }
});

test('a watch snapshot and a List of another connection, while a List reply waits, keep their rows', async () => {
  broker = await brokerHolding(['a/', 'b/']);
  const first = await connect({ dir, autoStart: false });
  const second = await connect({ dir, autoStart: false });
  try {
    const watch = second.watch('b/');
    const [listed, snapshot, other] = await Promise.all([
      first.list('a/'),
      // The snapshot's entries come as `registered` events of the iterator: read them all.
      (async () => {
        const seen: string[] = [];
        for await (const event of watch) {
          seen.push(event.entry.moniker);
          if (seen.length === PER_PREFIX) break;
        }
        return seen;
      })(),
      second.list('a/'),
    ]);
    assert.deepEqual(
      listed.map((entry) => entry.moniker),
      monikers('a/'),
    );
    assert.deepEqual(snapshot, monikers('b/'));
    assert.deepEqual(
      other.map((entry) => entry.moniker),
      monikers('a/'),
    );
  } finally {
    await first.close();
    await second.close();
  }
});
