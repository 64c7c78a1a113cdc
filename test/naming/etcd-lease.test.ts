// A table on etcd when processes die, stall or lose etcd: entries go when a lease expires, an
// owner whose lease was lost registers again (or hears that it lost a name taken meanwhile), and
// an etcd outage stops neither calls nor watches.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { connect, type Table, type TableEvent } from 'runtable';
import { EtcdCluster, etcdTable } from '../etcd-server.ts';
import { cleanup, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';
import { nextMatching } from './table-behaviour.ts';

let cluster: EtcdCluster;
let dir: string;
let table: Table;
let env: NodeJS.ProcessEnv;

before(async () => {
  cluster = await EtcdCluster.start(1);
});
after(() => cluster.stop());
beforeEach(async () => {
  dir = tempTableDir();
  const setup = etcdTable(cluster.address, '127.0.0.3');
  env = setup.env;
  // Short, so that requests made while etcd is down fail quickly.
  table = await connect({ ...setup.options, timeout: 3000 });
});
afterEach(async () => {
  await table.close();
  await cleanup(dir);
});

/** Every event of a watch, as "type moniker pid". */
function collect(prefix: string): { seen: string[]; stop(): Promise<void> } {
  const seen: string[] = [];
  const events = table.watch(prefix);
  const pump = (async () => {
    for await (const event of events as AsyncIterable<TableEvent>) {
      seen.push(`${event.type} ${event.entry.moniker} ${event.entry.pid}`);
    }
  })();
  return {
    seen,
    async stop() {
      await events.return();
      await pump;
    },
  };
}

test('SIGKILL of an owner: its entries go when its lease expires, and watchers are told', async () => {
  const owner = spawnFixture('owner', ['Kill/a', 'Kill/b'], dir, env);
  await owner.waitForLine(/^ready/);
  const events = table.watch('Kill/');
  await nextMatching(events, (e) => e.entry.moniker === 'Kill/b');
  owner.child.kill('SIGKILL');
  const gone = new Set<string>();
  while (gone.size < 2) gone.add((await nextMatching(events, (e) => e.type === 'revoked')).entry.moniker);
  assert.deepEqual(await table.list('Kill/'), []);
  await events.return();
});

test('an owner stalled past its lease registers again, and reports lost a name taken meanwhile', async () => {
  const owner = spawnFixture('owner', ['Stall/kept', 'Stall/taken'], dir, env);
  await owner.waitForLine(/^ready/);
  owner.child.kill('SIGSTOP');
  try {
    await waitFor(async () => (await table.list('Stall/')).length === 0, 15_000, 'the stalled lease to expire');
    await table.register('Stall/taken', { mine: () => true });
  } finally {
    owner.child.kill('SIGCONT');
  }
  await owner.waitForLine(/^lost Stall\/taken$/);
  await waitFor(async () => (await table.lookup('Stall/kept'))?.pid === owner.pid, 15_000, 'Stall/kept back');
  assert.equal((await table.lookup('Stall/taken'))?.pid, process.pid);
  const proxy = await table.get<{ pid(): number }>('Stall/kept');
  assert.equal(await proxy.pid(), owner.pid);
});

test('etcd down and back: calls go on, registrations are renewed, the watch resumes without gap or double', async () => {
  const owner = spawnFixture('owner', ['Out/a'], dir, env);
  await owner.waitForLine(/^ready/);
  const proxy = await table.get<{ pid(): number; add(a: number, b: number): number }>('Out/a');
  const watch = collect('Out/');
  await waitFor(() => watch.seen.length === 1, 10_000, 'the snapshot');

  const member = cluster.members[0] as (typeof cluster.members)[0];
  await cluster.kill(member);
  await assert.rejects(table.list('Out/'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'TABLE_UNAVAILABLE');
    assert.ok(error.message.includes(cluster.address), error.message);
    return true;
  });
  assert.equal(await proxy.add(2, 2), 4, 'calls never went through etcd');
  assert.equal(await proxy.pid(), owner.pid);

  await cluster.restart(member);
  await waitFor(
    async () => (await table.lookup('Out/a').catch(() => undefined))?.pid === owner.pid,
    20_000,
    'Out/a in etcd again',
  );
  const late = spawnFixture('owner', ['Out/b'], dir, env);
  await late.waitForLine(/^ready/, 30_000);
  await waitFor(() => watch.seen.length === 2, 20_000, 'the watch to resume');
  assert.deepEqual(watch.seen, [`registered Out/a ${owner.pid}`, `registered Out/b ${late.pid}`]);
  assert.equal(await proxy.pid(), owner.pid);
  await watch.stop();
});
