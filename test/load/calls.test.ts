// Load with real processes: 50 client processes make 2,000 calls each against 10 owner
// processes, and every answer is checked: nothing lost, duplicated or crossed between calls.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundleFixture } from '../bundled.ts';
import { type Fixture, spawnFixture, tableForEachTest } from '../helpers.ts';

const t = tableForEachTest();
const OWNERS = 10;
const CLIENTS = 50;
const CALLS = 2000;

test('50 client processes x 2,000 calls against 10 owners: every call answered once, with its own value', async () => {
  const [ownerJs, clientJs] = await Promise.all([bundleFixture('load-owner'), bundleFixture('load-client')]);
  const owners: Fixture[] = [];
  for (let o = 0; o < OWNERS; o++) owners.push(spawnFixture(ownerJs, ['--prefix', `ld/p${o}-`], t.dir));
  await Promise.all(owners.map((owner) => owner.waitForLine(/^ready/, 60_000)));
  const monikers = (await t.table.list('ld/')).map((entry) => entry.moniker);
  assert.equal(monikers.length, OWNERS);

  const clients: Fixture[] = [];
  for (let c = 0; c < CLIENTS; c++) {
    const args = ['--id', `c${c}`, '--monikers', monikers.join(','), '--calls', String(CALLS)];
    clients.push(spawnFixture(clientJs, [...args, '--concurrency', '200', '--go'], t.dir));
  }
  const results = await Promise.all(
    clients.map(async (client) => JSON.parse((await client.waitForLine(/^done/, 110_000)).slice(5))),
  );
  for (const result of results) {
    assert.deepEqual(result, { ok: CALLS, gone: 0, crossed: 0, twice: 0, other: {}, unsettled: 0 });
  }
  await Promise.all(clients.map((client) => client.exited));
});
