// 10,000 registrations from 100 owners (10 processes, 10 control connections each): the table
// and a watcher hold every one, once; when the processes die, every one leaves, once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TableEvent } from 'runtable';
import { bundleFixture } from '../bundled.ts';
import { type Fixture, spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';

const t = tableForEachTest();
const PROCESSES = 10;
const TABLES = 10;
const PER_TABLE = 100;
const TOTAL = PROCESSES * TABLES * PER_TABLE;

test('10,000 registrations from 100 owners: listed and watched once each, and all gone with their owners', async () => {
  const seen: TableEvent[] = [];
  const watch = t.table.watch('reg/');
  const pump = (async () => {
    for await (const event of watch) seen.push(event);
  })();
  const ownerJs = await bundleFixture('load-owner');
  const owners: Fixture[] = [];
  for (let p = 0; p < PROCESSES; p++) {
    const args = ['--prefix', `reg/p${p}-`, '--tables', String(TABLES), '--count', String(PER_TABLE)];
    owners.push(spawnFixture(ownerJs, args, t.dir));
  }
  await Promise.all(owners.map((owner) => owner.waitForLine(/^ready/, 60_000)));

  const entries = await t.table.list('reg/');
  assert.equal(entries.length, TOTAL);
  assert.equal(new Set(entries.map((entry) => entry.moniker)).size, TOTAL);
  const pids = new Set(owners.map((owner) => owner.pid));
  assert.ok(entries.every((entry) => pids.has(entry.pid)));
  assert.equal((await t.table.status()).connections, PROCESSES * TABLES + 1);
  await waitFor(() => seen.length === TOTAL, 10_000, 'the watcher to see every registration');
  assert.ok(seen.every((event) => event.type === 'registered'));
  assert.equal(new Set(seen.map((event) => event.entry.moniker)).size, TOTAL);

  for (const owner of owners) owner.child.kill('SIGKILL');
  await waitFor(() => seen.length === 2 * TOTAL, 20_000, 'the watcher to see every revoke');
  const revoked = seen.slice(TOTAL);
  assert.ok(revoked.every((event) => event.type === 'revoked'));
  assert.equal(new Set(revoked.map((event) => event.entry.moniker)).size, TOTAL);
  assert.deepEqual(await t.table.list('reg/'), []);
  await watch.return();
  await pump;
});
