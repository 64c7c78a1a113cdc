// A peer that stops reading: an owner asked for large replies by a client that never reads them,
// and the broker telling a watcher that never reads. Each buffers up to its maxPendingBytes, then
// drops that connection, says so, and goes on serving everyone else.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { connect, type TableEvent } from 'runtable';
import { startBroker } from '../../src/broker/broker.ts';
import { Kind } from '../../src/wire/protocol.ts';
import { cleanup, spawnFixture, tableForEachTest, tempTableDir, waitFor } from '../helpers.ts';
import { RawPeer } from '../raw-peer.ts';

const MiB = 1024 * 1024;

/** Peak resident memory of a process, from /proc (Linux). */
function peakRss(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, 'VmHWM in /proc/<pid>/status');
  return Number(match[1]) * 1024;
}

const t = tableForEachTest();

test('a client that never reads its large replies is dropped past maxPendingBytes; the owner stays small', async () => {
  const owner = spawnFixture('load-owner', ['--prefix', 'slow/', '--max-pending', String(8 * MiB)], t.dir);
  await owner.waitForLine(/^ready/);
  const entry = (await t.table.list('slow/'))[0];
  assert.ok(entry);
  const { endpoint, object } = await lookupWire(t.dir, entry.moniker);
  type Service = { echo(value: string): string; blob(bytes: number): Uint8Array };
  const proxy = await t.table.get<Service>('slow/0/0');
  assert.equal(await proxy.echo('warm'), 'warm');
  const baseline = peakRss(owner.pid);

  // 400 calls asking 1 MiB each: 400 MiB the owner would hold for a peer that reads nothing.
  const reader = await RawPeer.handshaken(endpoint);
  reader.socket.pause();
  for (let id = 1; id <= 400; id++) {
    reader.send({ kind: Kind.Call, id, target: object, method: 'blob', args: [MiB] });
  }
  const dropped = await owner.waitForLine(/^dropped/);
  assert.match(dropped, /client \(pid \d+\) left \d+ bytes unread, over the limit of 8388608 \(maxPendingBytes\)/);

  // Everyone else is served as before, large replies included.
  assert.equal(await proxy.echo('still here'), 'still here');
  assert.equal((await proxy.blob(2 * MiB)).length, 2 * MiB);
  const grown = peakRss(owner.pid) - baseline;
  assert.ok(grown < 100 * MiB, `the owner's peak RSS grew by ${Math.round(grown / MiB)} MiB, not by the 400 MiB asked`);
  reader.destroy();
});

test('a subscriber process stopped with SIGSTOP is dropped past maxPendingBytes while events flood it', async () => {
  const owner = spawnFixture('load-owner', ['--prefix', 'flood/', '--max-pending', String(8 * MiB)], t.dir);
  await owner.waitForLine(/^ready/);
  const subscriber = spawnFixture('subscriber', ['flood/0/0'], t.dir);
  await subscriber.waitForLine(/^subscribed/);
  type Service = { echo(value: string): string; flood(count: number, bytes: number): number };
  const proxy = await t.table.get<Service>('flood/0/0');
  const baseline = peakRss(owner.pid);

  subscriber.child.kill('SIGSTOP');
  try {
    // 300 events of 1 MiB for a process that reads none of them.
    const told = await proxy.flood(300, MiB);
    assert.ok(told < 300, `events stopped going to the dropped subscriber (${told} of 300 sent)`);
    const dropped = await owner.waitForLine(/^dropped/);
    assert.match(dropped, /client \(pid \d+\) left \d+ bytes unread, over the limit of 8388608/);
    assert.equal(await proxy.echo('still here'), 'still here');
    const grown = peakRss(owner.pid) - baseline;
    assert.ok(
      grown < 150 * MiB,
      `the owner's peak RSS grew by ${Math.round(grown / MiB)} MiB, not by the 300 MiB emitted`,
    );
  } finally {
    subscriber.child.kill('SIGCONT');
  }
});

test('a watcher that never reads is dropped by the broker past maxPendingBytes; other watchers go on', async () => {
  const dir = tempTableDir();
  const lines: string[] = [];
  const broker = await startBroker({ dir, idleMs: 0, maxPendingBytes: MiB, log: (line) => lines.push(line) });
  const table = await connect({ dir, autoStart: false });
  const seen: TableEvent[] = [];
  const watch = table.watch('w/');
  const pump = (async () => {
    for await (const event of watch) seen.push(event);
  })();
  try {
    const stuck = await RawPeer.handshaken(broker.address);
    await stuck.request({ kind: Kind.Watch, id: 1, prefix: 'w/' });
    stuck.socket.pause();

    // 300 registrations with 12 KiB of metadata each: about 3.6 MiB of events the stuck watcher never reads.
    const metadata = { pad: 'm'.repeat(12 * 1024) };
    const owner = await connect({ dir, autoStart: false });
    for (let n = 0; n < 300; n++) await owner.register(`w/${n}`, { f() {} }, { metadata });
    await waitFor(() => lines.some((line) => /maxPendingBytes/.test(line)), 10_000, 'the broker to drop the watcher');
    await waitFor(() => seen.length === 300, 10_000, 'the reading watcher to see every registration');
    assert.equal((await table.status()).connections, 2, 'the stuck watcher is gone, the others stay');
    assert.equal((await table.list('w/')).length, 300);
    stuck.destroy();
    await owner.close();
  } finally {
    await watch.return();
    await pump;
    await table.close();
    await broker.close();
    await cleanup(dir);
  }
});

/** The endpoint and object id behind a moniker, as the broker hands them out. */
async function lookupWire(dir: string, moniker: string): Promise<{ endpoint: string; object: number }> {
  const peer = await RawPeer.handshaken(`${dir}/broker.sock`);
  try {
    const reply = await peer.request({ kind: Kind.Lookup, id: 1, moniker });
    const value = reply.value as { endpoint: string; object: number };
    return { endpoint: value.endpoint, object: value.object };
  } finally {
    peer.destroy();
  }
}
