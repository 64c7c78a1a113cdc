// A three-member etcd cluster loses a member under traffic: registrations, lists, watches and
// calls go on through the other two, and the owner's lease is kept alive through them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connect, type TableEvent } from 'runtable';
import { EtcdCluster, etcdTable, leaderOf } from '../etcd-server.ts';
import { cleanup, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';

let cluster: EtcdCluster;
const dir = tempTableDir();

before(async () => {
  cluster = await EtcdCluster.start(3);
});
after(async () => {
  await cleanup(dir);
  await cluster.stop();
});

test('killing the leader of three members under traffic loses no registration, event or call', async () => {
  const setup = etcdTable(cluster.address, '127.0.0.3');
  const owner = spawnFixture('owner', ['Cluster/owner'], dir, setup.env);
  await owner.waitForLine(/^ready/);
  await using table = await connect(setup.options);
  const proxy = await table.get<{ add(a: number, b: number): number }>('Cluster/owner');
  const seen: string[] = [];
  const events = table.watch('Cluster/n');
  const pump = (async () => {
    for await (const event of events as AsyncIterable<TableEvent>) seen.push(`${event.type} ${event.entry.moniker}`);
  })();

  const ROUNDS = 40;
  let done = 0;
  const traffic = (async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const moniker = `Cluster/n${String(i).padStart(2, '0')}`;
      await table.register(moniker, { i: () => i });
      assert.equal(await proxy.add(i, 1), i + 1);
      assert.equal((await table.list('Cluster/n')).length, i + 1);
      done = i + 1;
    }
  })();
  await waitFor(() => done >= 10 || done === ROUNDS, 20_000, 'traffic to be under way');
  // The leader: its loss forces an election while requests are in flight.
  const victim = await leaderOf(cluster);
  await cluster.kill(victim);
  await traffic;

  await waitFor(() => seen.length === ROUNDS, 20_000, 'every registration to be watched');
  assert.deepEqual(
    seen,
    Array.from({ length: ROUNDS }, (_, i) => `registered Cluster/n${String(i).padStart(2, '0')}`),
  );
  assert.equal((await table.lookup('Cluster/owner'))?.pid, owner.pid, "the owner's lease lives on");
  await events.return();
  await pump;
});
