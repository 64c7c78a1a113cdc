// listNames against a broker from before ListNames (kind 22): such a broker refuses an unknown
// kind with Failure PROTOCOL "malformed message: unknown kind 22", and the client then lists the
// entries and gives their monikers. The older broker is a real broker behind a frame-level relay
// (older-broker.ts).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { connect } from 'runtable';
import type { Broker } from '../../src/broker/broker.ts';
import { Kind } from '../../src/wire/protocol.ts';
import { cleanup, tempTableDir } from '../helpers.ts';
import { type OlderBroker, startOlderBroker } from './older-broker.ts';

let brokerDir: string;
let dir: string;
let broker: Broker | undefined;
let relay: OlderBroker | undefined;

beforeEach(() => {
  brokerDir = tempTableDir();
  dir = tempTableDir();
});

afterEach(async () => {
  await relay?.close();
  relay = undefined;
  await broker?.close();
  broker = undefined;
  await cleanup(brokerDir);
  await cleanup(dir);
});

async function startRelay(refuse: boolean): Promise<OlderBroker> {
  ({ broker, relay } = await startOlderBroker(brokerDir, dir, refuse));
  return relay;
}

test('against a broker that refuses ListNames, listNames gives the monikers of list, in its order', async () => {
  const relay = await startRelay(true);

  const table = await connect({ dir, autoStart: false });
  try {
    assert.deepEqual(await table.listNames(''), [], 'an empty table');
    assert.equal(relay.refused, 1, 'asked once, refused');
    for (const moniker of ['Old/b', 'Old/a', 'Old/é', 'Old/ab', 'Other/x']) await table.register(moniker, { f() {} });
    assert.deepEqual(await table.listNames('Old/'), ['Old/a', 'Old/ab', 'Old/b', 'Old/é']);
    assert.deepEqual(await table.listNames('Old/a'), ['Old/a', 'Old/ab']);
    assert.deepEqual(
      await table.listNames(''),
      (await table.list('')).map((entry) => entry.moniker),
    );
    assert.equal(relay.refused, 1, 'not asked again of the same broker');
    assert.equal(
      relay.kinds.filter((kind) => kind === Kind.List).length,
      5,
      'each of four listNames a List, and the list',
    );
    await assert.rejects(table.listNames('bad\u0001'), { code: 'BAD_MONIKER' });
  } finally {
    await table.close();
  }
});

test('a broker that knows ListNames answers it, and no List is sent', async () => {
  const relay = await startRelay(false);
  const table = await connect({ dir, autoStart: false });
  try {
    await table.register('New/a', { f() {} });
    assert.deepEqual(await table.listNames('New/'), ['New/a']);
    assert.deepEqual(await table.listNames(''), ['New/a']);
    assert.deepEqual(
      relay.kinds.filter((kind) => kind === Kind.ListNames || kind === Kind.List),
      [Kind.ListNames, Kind.ListNames],
    );
  } finally {
    await table.close();
  }
});
