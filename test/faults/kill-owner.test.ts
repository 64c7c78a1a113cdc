// SIGKILL of an owner while 10 client processes have 10,000 calls in flight to it: every call
// settles exactly once, with its own result or OBJECT_GONE, and none hangs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bundleFixture } from '../bundled.ts';
import { type Fixture, spawnFixture, tableForEachTest } from '../helpers.ts';

const t = tableForEachTest();

interface Outcome {
  ok: number;
  gone: number;
  crossed: number;
  twice: number;
  unsettled: number;
  other: Record<string, number>;
}

function outcome(line: string): Outcome {
  return JSON.parse(line.slice('done '.length)) as Outcome;
}

test('SIGKILL of an owner with 10,000 calls in flight from 10 clients: each settles once, result or OBJECT_GONE', async () => {
  const [ownerJs, clientJs] = await Promise.all([bundleFixture('load-owner'), bundleFixture('load-client')]);
  const owner = spawnFixture(ownerJs, ['--prefix', 'kill/', '--count', '1'], t.dir);
  await owner.waitForLine(/^ready/);
  const clients: Fixture[] = [];
  for (let c = 0; c < 10; c++) {
    // Answers come back over 2 s, so the kill lands with most calls still in flight.
    const args = ['--id', `c${c}`, '--monikers', 'kill/0/0', '--calls', '1000', '--concurrency', '1000'];
    args.push('--delay-max', '2000');
    clients.push(spawnFixture(clientJs, [...args, '--midway', '50'], t.dir));
  }
  await Promise.all(clients.map((client) => client.waitForLine(/^armed/, 60_000)));
  for (const client of clients) client.child.kill('SIGUSR2');
  await Promise.all(clients.map((client) => client.waitForLine(/^midway/, 60_000)));
  owner.child.kill('SIGKILL');

  const results = await Promise.all(clients.map(async (client) => outcome(await client.waitForLine(/^done/, 30_000))));
  let gone = 0;
  for (const result of results) {
    assert.deepEqual(result.other, {}, 'only results and OBJECT_GONE');
    assert.equal(result.crossed, 0, 'no call got another call’s answer');
    assert.equal(result.twice, 0, 'no call settled twice');
    assert.equal(result.unsettled, 0, 'every call settled');
    assert.equal(result.ok + result.gone, 1000);
    assert.ok(result.ok >= 50, 'answers before the kill arrived');
    gone += result.gone;
  }
  assert.ok(gone > 5000, `most calls were in flight at the kill (${gone} OBJECT_GONE)`);
});
