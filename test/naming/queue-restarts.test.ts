// A hot standby waiting in line keeps its place through any number of broker restarts (its
// claim is sent again to each new broker), and status() shows who waits for which moniker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';

const t = tableForEachTest();

/** The pids status() shows waiting in line for `moniker`, or undefined while no broker answers. */
async function waiting(moniker: string): Promise<number[] | undefined> {
  const status = await t.table.status().catch(() => undefined);
  if (!status) return undefined;
  return status.waiting?.find((line) => line.moniker === moniker)?.pids ?? [];
}

test('a queued standby survives three broker restarts and takes over when the owner dies', async () => {
  const moniker = 'Queue/restarts';
  const owner = spawnFixture('owner', [moniker], t.dir);
  await owner.waitForLine(/^ready/);
  const first = spawnFixture('standby', [moniker], t.dir);
  await waitFor(async () => (await waiting(moniker))?.includes(first.pid), 10_000, 'the first standby in line');
  const second = spawnFixture('standby', [moniker], t.dir);
  await waitFor(async () => (await waiting(moniker))?.length === 2, 10_000, 'the second standby in line');
  assert.deepEqual(await waiting(moniker), [first.pid, second.pid], 'status shows the line, next first');

  for (let restart = 1; restart <= 3; restart++) {
    const { pid: broker } = await t.table.status();
    process.kill(broker, 'SIGKILL');
    await waitFor(
      async () => {
        const status = await t.table.status().catch(() => undefined);
        if (!status || status.pid === broker) return false;
        const line = status.waiting?.find((entry) => entry.moniker === moniker)?.pids ?? [];
        return line.length === 2 && (await t.table.lookup(moniker))?.pid === owner.pid;
      },
      20_000,
      `the owner and both standbys back after restart ${restart}`,
    );
  }
  for (const standby of [first, second]) {
    assert.equal(standby.lines.includes(`owner ${standby.pid}`), false, 'no standby took over while the owner lived');
  }

  // Each new line forms in the order the standbys came back, which need not be the first order.
  const line = (await waiting(moniker)) as number[];
  const [next, last] = line[0] === first.pid ? [first, second] : [second, first];
  owner.child.kill('SIGKILL');
  await next.waitForLine(/^owner /);
  assert.equal((await t.table.lookup(moniker))?.pid, next.pid);
  await waitFor(async () => (await waiting(moniker))?.length === 1, 10_000, 'the line to shrink');
  assert.deepEqual(await waiting(moniker), [last.pid]);
});
