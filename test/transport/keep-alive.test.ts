// A script exits when its work is done, table.close() or not; a process with a live
// registration, a running watch, an open subscription or a call in flight stays alive. Real
// one-shot scripts (test/fixtures/exit-client.ts) against a real owner that must stay up.

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { connect, on, oneway, type Table } from 'runtable';
import { heldCount } from '../../src/transport/keep-alive.ts';
import { EtcdCluster, etcdTable } from '../etcd-server.ts';
import { cleanup, type Fixture, isAlive, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';

/** From a script's last line to its exit: generous for a loaded machine, far from "never". */
const EXIT_DEADLINE_MS = 8000;

interface Owner {
  pid(): number;
  received(): { tag: string; bytes: number }[];
  tick(n: number): number;
  holding(): number;
  release(): void;
}

let dir: string | undefined;
let table: Table | undefined;

afterEach(async () => {
  await table?.close();
  table = undefined;
  await cleanup(dir);
  dir = undefined;
});

async function startOwner(): Promise<{ owner: Fixture; table: Table }> {
  dir = tempTableDir();
  const owner = spawnFixture('exit-owner', [], dir);
  await owner.waitForLine(/^ready/);
  table = await connect({ dir });
  return { owner, table };
}

/** Runs one case of exit-client in `dir`; resolves once it has printed "done". */
async function client(what: string, into: string, env: NodeJS.ProcessEnv = {}): Promise<Fixture> {
  const fixture = spawnFixture('exit-client', [what], into, env);
  await fixture.waitForLine(/^done$/, 30_000);
  return fixture;
}

/** The child's exit code, once it has exited by itself within the deadline; killed otherwise. */
async function exitsByItself(fixture: Fixture, what: string): Promise<number | null> {
  try {
    await waitFor(
      () => fixture.child.exitCode !== null || fixture.child.signalCode !== null,
      EXIT_DEADLINE_MS,
      `the "${what}" script to exit by itself`,
    );
  } finally {
    if (fixture.child.exitCode === null) fixture.child.kill('SIGKILL');
  }
  return fixture.exited;
}

test('connect() alone, with the broker it auto-started, lets the script exit', async () => {
  dir = tempTableDir();
  const fixture = await client('connect', dir);
  assert.equal(await exitsByItself(fixture, 'connect'), 0);
});

test('a script exits when its work is done, without table.close()', async () => {
  const { owner, table } = await startOwner();
  const cases = [
    'list',
    'call',
    'watch-break',
    'unsubscribe',
    'stream-break',
    'register-revoke',
    'close-twice',
    'oneway-last',
    'oneway-large',
    'oneway-unbound',
  ];
  const fixtures = await Promise.all(cases.map((what) => client(what, dir as string)));
  const codes = await Promise.all(fixtures.map((fixture, i) => exitsByItself(fixture, cases[i] as string)));
  assert.deepEqual(
    Object.fromEntries(cases.map((what, i) => [what, codes[i]])),
    Object.fromEntries(cases.map((what) => [what, 0])),
  );
  // The one-way calls sent last were delivered, the large one whole.
  const server = await table.get<Owner>('Exit/owner');
  const received = await waitFor(async () => {
    const got = await server.received();
    return got.length >= 3 ? got : undefined;
  });
  assert.deepEqual(received.map((r) => [r.tag, r.bytes]).sort(), [
    ['large', 8 * 1024 * 1024],
    ['small', 'last words'.length],
    ['unbound', 1],
  ]);
  // The owner, with nothing but its registration to hold it, is still up and serving.
  assert.ok(isAlive(owner.pid));
  assert.equal(await server.pid(), owner.pid);
});

test('a live registration, a running watch, an open subscription and a call in flight hold a script', async () => {
  const { owner, table } = await startOwner();
  const server = await table.get<Owner>('Exit/owner');
  const [registered, watching, subscribed, calling] = await Promise.all(
    ['registered', 'watching', 'subscribed', 'calling'].map((what) => client(what, dir as string)),
  );
  assert.ok(registered && watching && subscribed && calling);
  await waitFor(() => server.holding(), 10_000, 'the held call to reach the owner');

  // Each answers long after its script part ended, then, released, exits by itself.
  const held = await table.get<{ stop(): string }>('Exit/held');
  assert.equal(await held.stop(), 'stopping');
  assert.equal(await exitsByItself(registered, 'registered'), 0);

  const ping = await table.register('Exit/ping', { ping: () => 'pong' });
  await watching.waitForLine(/^saw Exit\/ping$/);
  assert.equal(await exitsByItself(watching, 'watching'), 0);
  await ping.revoke();

  await server.tick(7);
  await subscribed.waitForLine(/^tick 7$/);
  assert.equal(await exitsByItself(subscribed, 'subscribed'), 0);

  await server.release();
  await calling.waitForLine(/^released$/);
  assert.equal(await exitsByItself(calling, 'calling'), 0);

  assert.ok(isAlive(owner.pid));
  assert.equal(await server.pid(), owner.pid);
});

test('every hold is released: what held the process is counted back to nothing', async () => {
  dir = tempTableDir();
  const base = heldCount();
  table = await connect({ dir });
  assert.equal(heldCount(), base, 'connect() holds only while it runs');
  async function* forever() {
    for (let n = 0; ; n++) yield n;
  }
  const reg = await table.register('Held/a', { ping: () => 'pong', forever });
  assert.equal(heldCount(), base + 1, 'a registration holds');
  const remote = await table.get<{ ping(): string; forever(): AsyncIterable<number> }>('Held/a');
  assert.equal(await remote.ping(), 'pong');
  await table.list('');
  oneway(remote).ping();
  for await (const _ of table.watch('Held/')) break;
  for await (const _ of await remote.forever()) break;
  const off = on(remote, 'tick', () => {});
  await off.ready;
  // A subscription follows its moniker through a watch of its own, whose requests to the broker
  // are held while in flight: the count settles once they are answered.
  await waitFor(() => heldCount() === base + 2, 5000, 'a subscription to hold, once');
  off();
  // Unsubscribing ends the subscription's watch of the moniker: the broker's answer to that is a
  // request in flight, held for the moment it takes.
  await waitFor(() => heldCount() === base + 1, 5000, 'calls, lists, watches and streams left to hold nothing');
  const pending = remote.ping();
  assert.equal(heldCount(), base + 2, 'a call in flight holds');
  await pending;
  await reg.revoke();
  assert.equal(heldCount(), base, 'a revoked registration holds nothing');
  // close() releases what is still held: a registration, a subscription, a watch waiting.
  await table.register('Held/b', { ping: () => 'pong' });
  const stillOn = on(await table.get('Held/b'), 'tick', () => {});
  await stillOn.ready;
  const watching = (async () => {
    for await (const _ of table.watch('Nothing/')) {
      // Never: nothing is registered there.
    }
  })();
  await waitFor(() => heldCount() === base + 3, 5000, 'the watch to wait');
  await table.close();
  await watching;
  await table.close();
  table = undefined;
  await waitFor(() => heldCount() === base, 5000, 'nothing to hold after close()');
});

test('on a table in etcd too: a client exits when done, an owner stays while it holds a name', async () => {
  const cluster = await EtcdCluster.start(1);
  try {
    dir = tempTableDir();
    const setup = etcdTable(cluster.address, '127.0.0.3');
    table = await connect({ ...setup.options });
    const [listed, registered] = await Promise.all([
      client('list', dir, setup.env),
      client('registered', dir, setup.env),
    ]);
    assert.equal(await exitsByItself(listed, 'list on etcd'), 0);
    assert.ok(registered);
    const held = await table.get<{ stop(): string }>('Exit/held');
    assert.equal(await held.stop(), 'stopping');
    assert.equal(await exitsByItself(registered, 'registered on etcd'), 0);
  } finally {
    await table?.close();
    table = undefined;
    cluster.stop();
  }
});
