// runtable broker start|status|stop: the broker's life from the shell. After a stop, live owners
// register again with the next broker, and a running watch carries on without a false event.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
// Zombie-aware: a broker orphaned by `broker start` may stay unreaped where pid 1 reaps nothing.
import { isAlive } from '../../src/naming/liveness.ts';
import { brokerPids, cleanup, spawnFixture, tempTableDir, waitFor } from '../helpers.ts';
import { ensureBuilt, runCli, startCli } from './run-cli.ts';

let dir: string;

before(async () => {
  await ensureBuilt();
  dir = tempTableDir();
});

after(() => cleanup(dir));

test('broker stop with no broker running exits 0 and says so', async () => {
  const result = await runCli(['broker', 'stop'], dir);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^runtable: no broker running for table .*; nothing to stop\n$/);
});

test('broker start starts one, once, and status agrees', async () => {
  const first = await runCli(['broker', 'start'], dir);
  assert.equal(first.code, 0, first.stderr);
  const { pid, started } = JSON.parse(first.stdout) as { pid: number; started: boolean };
  assert.equal(started, true);
  assert.ok(isAlive(pid));
  assert.deepEqual(brokerPids(dir), [pid]);

  const again = await runCli(['broker', 'start', '--json'], dir);
  assert.deepEqual(JSON.parse(again.stdout), { pid, started: false, dir });
  const status = JSON.parse((await runCli(['broker', 'status', '--json'], dir)).stdout) as { pid: number };
  assert.equal(status.pid, pid);
});

test('broker stop ends the broker; owners come back with the next one, and a watch carries on', async () => {
  const owner = spawnFixture('owner', ['B/main'], dir);
  await owner.waitForLine(/^ready/);
  const watching = startCli(['watch', '--json'], dir);
  await watching.lines(1);
  const before = JSON.parse((await runCli(['broker', 'status', '--json'], dir)).stdout) as { pid: number };

  const stopped = await runCli(['broker', 'stop'], dir);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(stopped.stdout, `broker ${before.pid} stopped\n`);
  assert.ok(!isAlive(before.pid));

  // The owner's reconnect starts the next broker and registers B/main again.
  const entries = await waitFor(
    async () => {
      const listed = JSON.parse((await runCli(['ls', '--json'], dir)).stdout) as { moniker: string; pid: number }[];
      return listed.length > 0 ? listed : undefined;
    },
    10_000,
    'B/main to come back',
  );
  assert.deepEqual(
    entries.map((entry) => [entry.moniker, entry.pid]),
    [['B/main', owner.pid]],
  );
  const after = JSON.parse((await runCli(['broker', 'status', '--json'], dir)).stdout) as { pid: number };
  assert.notEqual(after.pid, before.pid);
  assert.equal((await runCli(['call', 'B/main', 'add', '20', '22'], dir)).stdout, '42\n');

  // The watch saw the entry once, and neither a revoke nor a second registration.
  watching.child.kill('SIGINT');
  const result = await watching.result;
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(
    result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { type: string }).type),
    ['registered'],
  );
});

test('broker start --idle-ms: the broker it starts exits when idle', async () => {
  const quiet = tempTableDir();
  try {
    const started = await runCli(['broker', 'start', '--idle-ms', '200', '--json'], quiet);
    const { pid, started: fresh } = JSON.parse(started.stdout) as { pid: number; started: boolean };
    assert.equal(fresh, true);
    await waitFor(() => !isAlive(pid), 5000, 'the idle broker to exit');
    assert.equal((await runCli(['broker', 'status'], quiet)).code, 5);
  } finally {
    // Not cleanup(): that would kill the other tests' owners too.
    for (const pid of brokerPids(quiet)) process.kill(pid, 'SIGKILL');
    fs.rmSync(quiet, { recursive: true, force: true });
  }
});
