// The broker's life: started on demand (exactly once, whoever races), logged, exiting when idle,
// and killed without owners, watchers or calls losing anything.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { connect, type TableEvent } from 'runtable';
import { brokerPids, cleanup, isAlive, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';

let dir: string;

beforeEach(() => {
  dir = tempTableDir();
});

afterEach(async () => {
  await cleanup(dir);
});

/** Leaves a socket file with no listener behind, as a broker killed with SIGKILL does. */
async function makeStaleSocket(socketPath: string): Promise<void> {
  const child = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(fs.existsSync(socketPath), 'the stale socket file exists');
}

test('the first connect starts a detached broker that logs to the table directory', async () => {
  assert.deepEqual(brokerPids(dir), []);
  const table = await connect({ dir });
  const status = await table.status();
  assert.deepEqual(brokerPids(dir), [status.pid]);
  assert.equal(status.dir, dir);
  assert.equal(status.connections, 1);
  assert.notEqual(status.pid, process.pid);
  const log = fs.readFileSync(path.join(dir, 'broker.log'), 'utf8');
  assert.match(log, new RegExp(`broker ${status.pid} listening`));
  await table.close();
});

test('autoStart: false fails with TABLE_UNAVAILABLE when no broker runs', async () => {
  await assert.rejects(connect({ dir, autoStart: false }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'TABLE_UNAVAILABLE');
    assert.match(error.message, /broker start/);
    return true;
  });
  assert.deepEqual(brokerPids(dir), []);
});

test('twelve processes racing over a stale socket start exactly one broker', async () => {
  await makeStaleSocket(path.join(dir, 'broker.sock'));
  const go = path.join(dir, 'go');
  const starters = Array.from({ length: 12 }, () => spawnFixture('starter', [go], dir));
  fs.writeFileSync(go, '');
  const lines = await Promise.all(starters.map((s) => s.waitForLine(/^broker \d+$/, 60_000)));
  const pids = new Set(lines.map((line) => Number(line.split(' ')[1])));
  assert.equal(pids.size, 1, `all starters met one broker, got ${[...pids].join(', ')}`);
  assert.deepEqual(brokerPids(dir), [...pids]);
  assert.equal(fs.existsSync(path.join(dir, 'broker.lock')), false, 'the start lock was released');
});

test('a lock left by a dead process does not stop the next start', async () => {
  fs.mkdirSync(path.join(dir, 'broker.lock'));
  fs.writeFileSync(path.join(dir, 'broker.lock', 'pid'), '999999');
  const table = await connect({ dir, timeout: 10_000 });
  assert.equal(brokerPids(dir).length, 1);
  await table.close();
});

test('a live broker is never robbed of its socket', async () => {
  const first = await connect({ dir });
  const { pid } = await first.status();
  const second = await connect({ dir });
  assert.equal((await second.status()).pid, pid);
  assert.deepEqual(brokerPids(dir), [pid]);
  await first.close();
  await second.close();
});

test('the broker exits after its idle period with no connections', async () => {
  const table = await connect({ dir, brokerIdleTimeout: 200 });
  const { pid } = await table.status();
  await table.close();
  await waitFor(() => !isAlive(pid), 10_000, 'the idle broker to exit');
  assert.equal(fs.existsSync(path.join(dir, 'broker.sock')), false, 'it removed its socket');
  assert.match(fs.readFileSync(path.join(dir, 'broker.log'), 'utf8'), /idle/);
});

test('SIGKILL of the broker: owners register again, watchers stay consistent, calls carry on', async () => {
  const table = await connect({ dir });
  const owner = spawnFixture('owner', ['Restart/a', 'Restart/b'], dir);
  await owner.waitForLine(/^ready/);
  const mine = await table.register('Restart/mine', { hello: () => 'still here' }, { metadata: { n: 1 } });
  const before = await table.list('Restart/');
  const proxy = await table.get<{ add(a: number, b: number): number; count(): number }>('Restart/a');
  assert.equal(await proxy.add(1, 2), 3);

  const events = table.watch('Restart/');
  const seen: TableEvent[] = [];
  const pump = (async () => {
    for await (const event of events) seen.push(event);
  })();
  await waitFor(() => seen.length === 3, 10_000, 'the snapshot');

  const { pid: oldBroker } = await table.status();
  process.kill(oldBroker, 'SIGKILL');
  // Calls never pass through the broker: keep calling while it is down and coming back.
  const during = await Promise.all(Array.from({ length: 50 }, () => proxy.count()));
  assert.equal(new Set(during).size, 50);

  const after = await waitFor(
    async () => {
      const status = await table.status().catch(() => undefined);
      if (!status || status.pid === oldBroker) return undefined;
      const entries = await table.list('Restart/');
      return entries.length === 3 ? entries : undefined;
    },
    15_000,
    'all entries back in a new broker',
  );
  assert.deepEqual(
    after.map((e) => [e.moniker, e.pid, e.registeredAt.getTime(), e.metadata]),
    before.map((e) => [e.moniker, e.pid, e.registeredAt.getTime(), e.metadata]),
  );
  assert.equal(await proxy.add(2, 2), 4);
  assert.equal(mine.active, true);

  // The watcher saw nothing but the snapshot: no entry was lost or doubled.
  await table.register('Restart/new', { f() {} });
  await waitFor(() => seen.length === 4, 10_000, 'the event after the restart');
  assert.deepEqual(
    seen.map((e) => `${e.type} ${e.entry.moniker}`),
    ['registered Restart/a', 'registered Restart/b', 'registered Restart/mine', 'registered Restart/new'],
  );
  // A new owner finds the restored table as it was.
  const other = await connect({ dir });
  assert.equal((await other.list('Restart/')).length, 4);
  await other.close();
  await events.return();
  await pump;
  await table.close();
});

test('an owner killed while the broker was down is reported revoked once the watch resumes', async () => {
  const table = await connect({ dir });
  const owner = spawnFixture('owner', ['Gone/a'], dir);
  const survivor = spawnFixture('owner', ['Gone/b'], dir);
  await Promise.all([owner.waitForLine(/^ready/), survivor.waitForLine(/^ready/)]);
  const seen: TableEvent[] = [];
  const events = table.watch('Gone/');
  const pump = (async () => {
    for await (const event of events) seen.push(event);
  })();
  await waitFor(() => seen.length === 2, 10_000, 'the snapshot');
  const { pid: oldBroker } = await table.status();
  process.kill(oldBroker, 'SIGKILL');
  owner.child.kill('SIGKILL');
  await owner.exited;
  await waitFor(() => seen.length === 3, 15_000, 'the revoke of the dead owner');
  assert.deepEqual(
    seen.map((e) => `${e.type} ${e.entry.moniker}`),
    ['registered Gone/a', 'registered Gone/b', 'revoked Gone/a'],
  );
  await events.return();
  await pump;
  await table.close();
});
