// The naming side with real processes: register, list, lookup, watch, uniqueness, and entries
// leaving the table the moment their owner dies.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { connect, RuntableError, type TableEvent } from 'runtable';
import { spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';

const t = tableForEachTest();

/** Reads events until one matches, with a deadline. */
async function nextMatching(
  events: AsyncIterator<TableEvent>,
  match: (event: TableEvent) => boolean,
  timeoutMs = 10_000,
): Promise<TableEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    const result = await Promise.race([
      events.next(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no matching event in time')), left).unref()),
    ]);
    if (result.done) throw new Error('watch ended');
    if (match(result.value)) return result.value;
  }
}

test('entries registered by other processes are listed by prefix and looked up', async () => {
  const a = spawnFixture('owner', ['Sample/a', 'Sample/b'], t.dir);
  const b = spawnFixture('owner', ['Sample/c', 'Other/x'], t.dir);
  await Promise.all([a.waitForLine(/^ready/), b.waitForLine(/^ready/)]);

  const entries = await t.table.list('Sample/');
  assert.deepEqual(
    entries.map((e) => e.moniker),
    ['Sample/a', 'Sample/b', 'Sample/c'],
  );
  const entry = entries[0];
  assert.ok(entry);
  assert.equal(entry.pid, a.pid);
  assert.deepEqual(entry.metadata, { fixture: 'owner' });
  assert.ok(entry.methods.includes('echo'));
  assert.ok(!entry.methods.includes('_secret'));
  assert.ok(entry.registeredAt instanceof Date);
  assert.equal((await t.table.list('')).length, 4);
  assert.equal((await t.table.list('Nothing/')).length, 0);
  assert.equal((await t.table.lookup('Other/x'))?.pid, b.pid);
  assert.equal(await t.table.lookup('Other/y'), undefined);
  assert.equal(await t.table.isRunning('Sample/c'), true);
  assert.equal(await t.table.isRunning('Sample/d'), false);
});

test('a moniker has one owner: a second register fails with ALREADY_REGISTERED', async () => {
  const owner = spawnFixture('owner', ['Unique/one'], t.dir);
  await owner.waitForLine(/^ready/);
  await assert.rejects(t.table.register('Unique/one', { f() {} }), (error: RuntableError) => {
    assert.ok(error instanceof RuntableError);
    assert.equal(error.code, 'ALREADY_REGISTERED');
    assert.match(error.message, /Unique\/one/);
    return true;
  });
  const second = spawnFixture('owner', ['Unique/one'], t.dir);
  assert.notEqual(await second.exited, 0);
  assert.equal((await t.table.lookup('Unique/one'))?.pid, owner.pid);
});

test('replace takes over a live moniker and the old owner is told it lost it', async () => {
  const owner = spawnFixture('owner', ['Hand/over'], t.dir);
  await owner.waitForLine(/^ready/);
  const reg = await t.table.register('Hand/over', { mine: () => process.pid }, { replace: true });
  await owner.waitForLine(/^lost Hand\/over$/);
  assert.equal((await t.table.lookup('Hand/over'))?.pid, process.pid);
  const proxy = await t.table.get<{ mine(): number }>('Hand/over');
  assert.equal(await proxy.mine(), process.pid);
  await reg.revoke();
  assert.equal(await t.table.isRunning('Hand/over'), false);
});

test('watch gives the current entries, then registered, changed and revoked as they happen', async () => {
  await t.table.register('W/before', { f() {} });
  const controller = new AbortController();
  const events = t.table.watch('W/', { signal: controller.signal });
  const first = await nextMatching(events, () => true);
  assert.equal(first.type, 'registered');
  assert.equal(first.entry.moniker, 'W/before');

  const owner = spawnFixture('owner', ['W/child', 'Elsewhere/x'], t.dir);
  const registered = await nextMatching(events, () => true);
  assert.deepEqual(
    [registered.type, registered.entry.moniker, registered.entry.pid],
    ['registered', 'W/child', owner.pid],
  );

  const reg = await t.table.register('W/mine', { f() {} });
  await nextMatching(events, (e) => e.entry.moniker === 'W/mine' && e.type === 'registered');
  const touched = await reg.touch({ state: 'busy' });
  const changed = await nextMatching(events, () => true);
  assert.equal(changed.type, 'changed');
  assert.deepEqual(changed.entry.metadata, { state: 'busy' });
  assert.equal(changed.entry.changedAt.getTime(), touched.changedAt.getTime());

  await reg.revoke();
  const revoked = await nextMatching(events, () => true);
  assert.deepEqual([revoked.type, revoked.entry.moniker], ['revoked', 'W/mine']);
  controller.abort();
  assert.deepEqual(await events.next(), { value: undefined, done: true });
});

test('SIGKILL of an owner: its entries leave the table and watchers are told within 100 ms', async () => {
  const owner = spawnFixture('owner', ['Kill/a', 'Kill/b'], t.dir);
  await owner.waitForLine(/^ready/);
  const events = t.table.watch('Kill/');
  await nextMatching(events, (e) => e.entry.moniker === 'Kill/b');

  const killedAt = performance.now();
  owner.child.kill('SIGKILL');
  const gone = new Set<string>();
  while (gone.size < 2) {
    const event = await nextMatching(events, (e) => e.type === 'revoked');
    gone.add(event.entry.moniker);
  }
  const elapsed = performance.now() - killedAt;
  assert.ok(elapsed < 100, `watchers were told after ${elapsed.toFixed(1)} ms`);
  assert.deepEqual(await t.table.list('Kill/'), []);
  await events.return();
});

test('an owner that exits normally leaves no entry behind', async () => {
  const owner = spawnFixture('owner', ['Exit/a'], t.dir);
  await owner.waitForLine(/^ready/);
  owner.child.kill('SIGTERM');
  const code = await owner.exited;
  assert.equal(code, 0, `exit code ${code}, signal ${owner.child.signalCode}`);
  assert.equal(await t.table.isRunning('Exit/a'), false);
});

test('revoke and close remove entries; a closed table refuses work', async () => {
  const reg = await t.table.register('Close/a', { f() {} });
  await t.table.register('Close/b', { f() {} });
  await reg.revoke();
  assert.equal(reg.active, false);
  assert.deepEqual(
    (await t.table.list('Close/')).map((e) => e.moniker),
    ['Close/b'],
  );
  const other = await connect({ dir: t.dir });
  try {
    await t.table.close();
    await assert.rejects(t.table.list(''), { code: 'TABLE_UNAVAILABLE' });
    assert.deepEqual(await other.list('Close/'), [], 'gone as soon as close() resolved');
  } finally {
    await other.close();
    t.table = await connect({ dir: t.dir });
  }
});

test('await using revokes a registration and closes a table', async () => {
  {
    await using inner = await connect({ dir: t.dir });
    await using reg = await inner.register('Using/a', { f() {} });
    assert.equal(reg.active, true);
    assert.equal(await t.table.isRunning('Using/a'), true);
  }
  assert.equal(await t.table.isRunning('Using/a'), false);
});

test('a list of 8,000 entries comes back whole (replies are not held to the request limit)', async () => {
  await Promise.all(Array.from({ length: 8000 }, (_, i) => t.table.register(`Big/${String(i).padStart(5, '0')}`, {})));
  const entries = await t.table.list('Big/');
  assert.equal(entries.length, 8000);
  assert.equal(entries[0]?.moniker, 'Big/00000');
  assert.equal(entries[7999]?.moniker, 'Big/07999');
  assert.equal((await t.table.status()).entries, 8000);
});

test('metadata is held to its limit on register and on touch', async () => {
  const big = { blob: 'x'.repeat(20_000) };
  await assert.rejects(t.table.register('Meta/a', {}, { metadata: big }), { code: 'BAD_ARGUMENT' });
  const reg = await t.table.register('Meta/a', {}, { metadata: { small: true } });
  await assert.rejects(reg.touch(big), { code: 'BAD_ARGUMENT' });
  assert.deepEqual((await t.table.lookup('Meta/a'))?.metadata, { small: true });
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
