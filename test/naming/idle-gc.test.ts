// The broker's collection after a burst (src/broker/idle-gc.ts): none for a few requests, one
// once a burst of them is over, and counting starts again after it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GC_AFTER_REQUESTS, IdleCollector } from '../../src/broker/idle-gc.ts';

test('a burst of requests is followed by one collection once the broker is quiet', async () => {
  let collections = 0;
  let collected: () => void = () => {};
  const collector = new IdleCollector(() => {
    collections++;
    collected();
  });
  // The collector's timer is unref'd (it never holds the broker up): this one keeps the test's
  // process waiting for it, up to a deadline.
  const deadline = setTimeout(() => collected(), 10_000);
  try {
    const first = new Promise<void>((resolve) => {
      collected = resolve;
    });
    for (let i = 0; i < GC_AFTER_REQUESTS; i++) collector.note();
    await first;
    assert.equal(collections, 1);
    // Counting starts again: fewer requests than a burst arm nothing, so close() has no timer to stop.
    for (let i = 0; i < GC_AFTER_REQUESTS - 1; i++) collector.note();
    assert.equal(collector.armed, false);
    collector.note();
    assert.equal(collector.armed, true);
  } finally {
    clearTimeout(deadline);
    collector.close();
  }
  assert.equal(collector.armed, false);
});

test('without gc() (a broker run in-process, no --expose-gc) nothing is armed', () => {
  const collector = new IdleCollector(undefined);
  for (let i = 0; i < 2 * GC_AFTER_REQUESTS; i++) collector.note();
  assert.equal(collector.armed, false);
  collector.close();
});
