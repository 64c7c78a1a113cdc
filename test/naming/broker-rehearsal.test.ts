// The broker plays an owner leaving and a List at start (broker/rehearsal.ts), on connections and
// tables of its own: nothing of them may show in the real table, its status, its log or its
// watchers, and the real paths they warm must still tell watchers, sweep and list as before.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { afterEach, beforeEach, test } from 'node:test';
import { connect, type TableEvent } from 'runtable';
import { type Broker, startBroker } from '../../src/broker/broker.ts';
import { cleanup, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';

let dir: string;
let broker: Broker | undefined;
let lines: string[];

beforeEach(() => {
  dir = tempTableDir();
  lines = [];
});

afterEach(async () => {
  await broker?.close();
  broker = undefined;
  await cleanup(dir);
});

test('the rehearsals at start leave no entry, connection, event or log line of an owner behind', async () => {
  broker = await startBroker({ dir, idleMs: 0, log: (line) => lines.push(line) });
  await waitFor(() => lines.some((line) => line.startsWith('rehearsed an owner leaving')), 10_000, 'the rehearsal');
  await waitFor(() => lines.some((line) => line.startsWith('rehearsed a List')), 10_000, 'the List rehearsal');
  assert.equal(broker.table.size, 0);
  assert.deepEqual(
    lines.filter((line) => /left|handshake|failed/.test(line)),
    [],
    'no owner left and no handshake failed, as far as the log tells',
  );
  const table = await connect({ dir, autoStart: false });
  try {
    const status = await table.status();
    assert.equal(status.entries, 0);
    assert.equal(status.connections, 1);
    assert.deepEqual(await table.list(''), []);
    // What a watcher of everything sees first is the snapshot: nothing.
    const watch = table.watch('');
    const first = table.register('real/one', { ping: () => 'pong' });
    const { value } = await watch.next();
    assert.equal((value as TableEvent).entry.moniker, 'real/one');
    await first;
    await watch.return();
  } finally {
    await table.close();
  }
  assert.deepEqual(
    fs.readdirSync(dir).filter((name) => name.includes('rehearsal')),
    [],
    'no file named for the rehearsal in the table directory',
  );
});

test('after the rehearsal, an owner killed with SIGKILL is revoked for watchers, logged and swept', async () => {
  broker = await startBroker({ dir, idleMs: 0, log: (line) => lines.push(line) });
  await waitFor(() => lines.some((line) => line.startsWith('rehearsed an owner leaving')), 10_000, 'the rehearsal');
  const table = await connect({ dir, autoStart: false });
  try {
    const watch = table.watch('victim/');
    const events: TableEvent[] = [];
    const reading = (async () => {
      for await (const event of watch) {
        events.push(event);
        if (event.type === 'revoked') return;
      }
    })();
    const owner = spawnFixture('owner', ['victim/one'], dir);
    await owner.waitForLine(/^ready/);
    await waitFor(() => events.some((event) => event.type === 'registered'), 10_000, 'the registration');
    assert.ok(
      fs.readdirSync(dir).some((name) => name.startsWith(`o${owner.pid}-`)),
      'the owner has its endpoint file',
    );
    owner.child.kill('SIGKILL');
    await reading;
    assert.deepEqual(
      events.map((event) => [event.type, event.entry.moniker]),
      [
        ['registered', 'victim/one'],
        ['revoked', 'victim/one'],
      ],
    );
    await waitFor(() => lines.some((line) => /^pid \d+ left; revoked 1 entries/.test(line)), 10_000, 'the log line');
    await waitFor(
      () => !fs.readdirSync(dir).some((name) => name.startsWith(`o${owner.pid}-`)),
      10_000,
      "the dead owner's endpoint file swept",
    );
  } finally {
    await table.close();
  }
});

test('after the List rehearsal, Lists and a watch snapshot of the real table hold its entries only', async () => {
  broker = await startBroker({ dir, idleMs: 0, log: (line) => lines.push(line) });
  await waitFor(() => lines.some((line) => line.startsWith('rehearsed a List')), 10_000, 'the List rehearsal');
  assert.ok(!lines.some((line) => line.startsWith('rehearsal of a List failed')));
  const table = await connect({ dir, autoStart: false });
  try {
    const monikers = Array.from({ length: 50 }, (_, i) => `real/m${String(i).padStart(2, '0')}`);
    for (const moniker of monikers) await table.register(moniker, { ping: () => 'pong' });
    for (let i = 0; i < 3; i++) {
      const entries = await table.list('');
      assert.deepEqual(
        entries.map((entry) => entry.moniker),
        monikers,
      );
      assert.ok(entries.every((entry) => entry.pid === process.pid && entry.methods.join() === 'ping'));
    }
    assert.deepEqual(await table.list('rehearsal'), []);
    assert.equal((await table.status()).entries, monikers.length);
  } finally {
    await table.close();
  }
});
