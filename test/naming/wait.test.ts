// Waiting for a name with real processes: waitFor and get's `wait` resolve once another process
// registers the moniker (at once if it is there), and end in TIMEOUT or ABORTED otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnFixture, tableForEachTest } from '../helpers.ts';

const t = tableForEachTest();

interface Owner {
  pid(): number;
}

test('waitFor resolves at once with the entry of a registered moniker', async () => {
  await using reg = await t.table.register('Wait/here', { pid: () => process.pid });
  const entry = await t.table.waitFor('Wait/here', { timeout: 1 });
  assert.equal(entry.moniker, reg.moniker);
  assert.equal(entry.pid, process.pid);
});

test('waitFor resolves when another process registers the moniker later', async () => {
  const waiting = t.table.waitFor('Wait/later', { timeout: 30_000 });
  // A longer moniker under the same prefix is not the one waited for.
  const decoy = spawnFixture('owner', ['Wait/later-not'], t.dir);
  await decoy.waitForLine(/^ready/);
  const owner = spawnFixture('owner', ['Wait/later'], t.dir);
  const entry = await waiting;
  assert.equal(entry.pid, owner.pid);
  assert.equal(entry.moniker, 'Wait/later');
});

test('get with wait binds to the owner that comes, and the proxy calls it', async () => {
  const getting = t.table.get<Owner>('Wait/get', { wait: 30_000 });
  const owner = spawnFixture('owner', ['Wait/get'], t.dir);
  const proxy = await getting;
  assert.equal(await proxy.pid(), owner.pid);
});

test('waitFor ends in TIMEOUT, get with wait too, and a plain get is NOT_REGISTERED', async () => {
  await assert.rejects(t.table.waitFor('Wait/never', { timeout: 200 }), {
    code: 'TIMEOUT',
    message: 'Wait/never was not registered within 200 ms',
  });
  await assert.rejects(t.table.get('Wait/never', { wait: 200 }), { code: 'TIMEOUT' });
  await assert.rejects(t.table.get('Wait/never'), { code: 'NOT_REGISTERED' });
});

test('waitFor ends in ABORTED when its signal aborts, before or during the wait', async () => {
  await assert.rejects(t.table.waitFor('Wait/never', { signal: AbortSignal.abort() }), { code: 'ABORTED' });
  const controller = new AbortController();
  const waiting = t.table.waitFor('Wait/never', { signal: controller.signal, timeout: 60_000 });
  setImmediate(() => controller.abort());
  await assert.rejects(waiting, { code: 'ABORTED' });
});

test('waitFor refuses a bad moniker or timeout', async () => {
  await assert.rejects(t.table.waitFor(''), { code: 'BAD_MONIKER' });
  await assert.rejects(t.table.waitFor('Wait/x', { timeout: -1 }), { code: 'BAD_ARGUMENT' });
  await assert.rejects(t.table.get('Wait/x', { wait: Number.NaN }), { code: 'BAD_ARGUMENT' });
});
