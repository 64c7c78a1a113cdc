// SIGKILL of the broker while clients call owners hard: calls go owner to client, so none is
// lost; a new broker starts, every owner registers again, and a watcher's view equals list().

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TableEvent } from 'runtable';
import { bundleFixture } from '../bundled.ts';
import { type Fixture, spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';

const t = tableForEachTest();
const OWNERS = 3;
const PER_OWNER = 10;

test('SIGKILL of the broker under load: no call lost, every registration back, watchers consistent', async () => {
  const [ownerJs, clientJs] = await Promise.all([bundleFixture('load-owner'), bundleFixture('load-client')]);
  const owners: Fixture[] = [];
  for (let o = 0; o < OWNERS; o++) {
    owners.push(spawnFixture(ownerJs, ['--prefix', `br/p${o}-`, '--count', String(PER_OWNER)], t.dir));
  }
  await Promise.all(owners.map((owner) => owner.waitForLine(/^ready/)));
  const before = await t.table.list('br/');
  assert.equal(before.length, OWNERS * PER_OWNER);

  const seen: TableEvent[] = [];
  const watch = t.table.watch('br/');
  const pump = (async () => {
    for await (const event of watch) seen.push(event);
  })();
  await waitFor(() => seen.length === before.length, 10_000, 'the snapshot');

  const monikers = before.map((entry) => entry.moniker).join(',');
  const clients: Fixture[] = [];
  for (let c = 0; c < 4; c++) {
    const args = ['--id', `c${c}`, '--monikers', monikers, '--calls', '3000', '--concurrency', '20'];
    clients.push(spawnFixture(clientJs, [...args, '--delay-max', '20', '--midway', '300'], t.dir));
  }
  await Promise.all(clients.map((client) => client.waitForLine(/^armed/, 60_000)));
  for (const client of clients) client.child.kill('SIGUSR2');
  await Promise.all(clients.map((client) => client.waitForLine(/^midway/, 60_000)));

  const { pid: oldBroker } = await t.table.status();
  process.kill(oldBroker, 'SIGKILL');

  for (const client of clients) {
    const result = JSON.parse((await client.waitForLine(/^done/, 60_000)).slice(5));
    assert.deepEqual(result, { ok: 3000, gone: 0, crossed: 0, twice: 0, other: {}, unsettled: 0 });
  }
  const after = await waitFor(
    async () => {
      const status = await t.table.status().catch(() => undefined);
      if (!status || status.pid === oldBroker) return undefined;
      const entries = await t.table.list('br/');
      return entries.length === before.length ? entries : undefined;
    },
    15_000,
    'every registration back in a new broker',
  );
  const identity = (e: { moniker: string; pid: number; registeredAt: Date }) =>
    `${e.moniker} ${e.pid} ${e.registeredAt.getTime()}`;
  assert.deepEqual(after.map(identity), before.map(identity));

  // The watcher saw each entry once, no revoke: its view is what list() says.
  await t.table.register('br/new', { f() {} });
  await waitFor(() => seen.length === before.length + 1, 10_000, 'the event after the restart');
  const view = new Map<string, string>();
  for (const event of seen) {
    if (event.type === 'revoked') view.delete(event.entry.moniker);
    else view.set(event.entry.moniker, identity(event.entry));
  }
  assert.deepEqual(
    seen.map((event) => event.type),
    seen.map(() => 'registered'),
  );
  assert.deepEqual([...view.values()].sort(), (await t.table.list('br/')).map(identity).sort());
  await watch.return();
  await pump;
});
