// What only the local table does: entries leave the moment their owner dies, big lists, and
// endpoint socket files. The behaviour every table shares is in table-behaviour.ts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { connect } from 'runtable';
import { spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';
import { nextMatching } from './table-behaviour.ts';

const t = tableForEachTest();

test('SIGKILL of an owner: its entries leave the table and watchers are told (how fast: bench (f))', async () => {
  const owner = spawnFixture('owner', ['Kill/a', 'Kill/b'], t.dir);
  await owner.waitForLine(/^ready/);
  const events = t.table.watch('Kill/');
  await nextMatching(events, (e) => e.entry.moniker === 'Kill/b');

  owner.child.kill('SIGKILL');
  const gone = new Set<string>();
  while (gone.size < 2) {
    const event = await nextMatching(events, (e) => e.type === 'revoked');
    gone.add(event.entry.moniker);
  }
  assert.deepEqual(await t.table.list('Kill/'), []);
  await events.return();
});

test('a list of 8,000 entries comes back whole (replies are not held to the request limit)', async () => {
  await Promise.all(Array.from({ length: 8000 }, (_, i) => t.table.register(`Big/${String(i).padStart(5, '0')}`, {})));
  const entries = await t.table.list('Big/');
  assert.equal(entries.length, 8000);
  assert.equal(entries[0]?.moniker, 'Big/00000');
  assert.equal(entries[7999]?.moniker, 'Big/07999');
  assert.equal((await t.table.status()).entries, 8000);
});

test("a dead owner's endpoint socket is swept, and a stale one under our own pid is replaced", async () => {
  const owner = spawnFixture('owner', ['Sweep/a'], t.dir);
  await owner.waitForLine(/^ready/);
  const socketFile = path.join(t.dir, `o${owner.pid}-1.sock`);
  assert.ok(fs.existsSync(socketFile));
  owner.child.kill('SIGKILL');
  await waitFor(() => !fs.existsSync(socketFile), 5000, 'the dead owner socket to be swept');

  // A file left under the name this process will use (its pid was someone else's before).
  const inner = await connect({ dir: t.dir });
  // The counter in the name is per process and unknown here: cover its next hundred values.
  for (let n = 1; n <= 100; n++) {
    const file = path.join(t.dir, `o${process.pid}-${n}.sock`);
    if (!fs.existsSync(file)) fs.writeFileSync(file, 'stale');
  }
  const reg = await inner.register('Sweep/mine', { ok: () => true });
  const proxy = await t.table.get<{ ok(): boolean }>('Sweep/mine');
  assert.equal(await proxy.ok(), true);
  await reg.revoke();
  await inner.close();
});
