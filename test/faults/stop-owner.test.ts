// SIGSTOP of an owner: calls to it fail with TIMEOUT rather than hang, its entry stays (it is
// alive), and after SIGCONT it serves again on the same connection.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntableError, withOptions } from 'runtable';
import { spawnFixture, tableForEachTest } from '../helpers.ts';

const t = tableForEachTest();

test('SIGSTOP of an owner: calls fail with TIMEOUT; after SIGCONT it serves again', async () => {
  const owner = spawnFixture('load-owner', ['--prefix', 'stop/'], t.dir);
  await owner.waitForLine(/^ready/);
  type Echo = { echo(value: string): string };
  const proxy = await t.table.get<Echo>('stop/0/0');
  assert.equal(await proxy.echo('before'), 'before');

  owner.child.kill('SIGSTOP');
  try {
    const quick = withOptions(proxy, { timeout: 300 });
    const outcomes = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => quick.echo(`stopped ${i}`)));
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.reason instanceof RuntableError);
      assert.equal(outcome.reason.code, 'TIMEOUT');
    }
    assert.equal(await t.table.isRunning('stop/0/0'), true, 'a stopped owner is still registered');
  } finally {
    owner.child.kill('SIGCONT');
  }

  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => proxy.echo(`after ${i}`)));
  assert.deepEqual(
    answers,
    Array.from({ length: 100 }, (_, i) => `after ${i}`),
  );
});
