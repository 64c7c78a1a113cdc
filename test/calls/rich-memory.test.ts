// Rich calls that need no owner process, over the in-memory pair: the service of
// test/fixtures/rich.ts served in this process. One-way calls in order, timeouts and aborts that
// reach the owner, callbacks at any depth, and streams: in order, stopped by a break, ended by
// the owner's error. Each ends with the pair's leak check. What needs a process (SIGKILL, memory
// of the owner, several tables) stays in rich.test.ts and rich-streams.test.ts.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { oneway, type Remote, type RuntableError, withOptions } from 'runtable';
import { STREAM_BATCH, STREAM_WINDOW } from '../../src/calls/streams.ts';
import { richService } from '../fixtures/rich-object.ts';
import { code, waitFor } from '../helpers.ts';
import { type MemoryPair, memoryPair } from './memory-pair.ts';
import type { RichService } from './rich-service.ts';

let pair: MemoryPair;

beforeEach(async () => {
  pair = await memoryPair({ timeout: 20_000 });
});

afterEach(async () => {
  await pair.close();
});

/** Serves a fresh rich service under `moniker`; returns its proxy. */
function serve(moniker: string): Remote<RichService> {
  return pair.get<RichService>(
    moniker,
    pair.register(
      moniker,
      richService(() => undefined),
    ),
  );
}

test('one-way calls return nothing at once and arrive in order', async () => {
  const remote = serve('Rich/oneway');
  const fast = oneway(remote);
  for (let i = 0; i < 200; i++) assert.equal(fast.note(i), undefined, 'no promise to wait for');
  const expected = Array.from({ length: 200 }, (_, i) => i);
  const notes = await waitFor(async () => {
    const got = await remote.notes();
    return got.length >= 200 ? got : undefined;
  });
  assert.deepEqual(notes, expected);
  await pair.leakCheck();
});

test('a timeout rejects TIMEOUT at once and the owner sees its signal fire', async () => {
  const remote = serve('Rich/timeout');
  const started = Date.now();
  await assert.rejects(withOptions(remote, { timeout: 200 }).wait(60_000, 't1'), code('TIMEOUT'));
  assert.ok(Date.now() - started < 5_000, `rejected after ${Date.now() - started} ms`);
  const cancelled = await waitFor(async () => {
    const list = await remote.cancelled();
    return list.length > 0 ? list : undefined;
  });
  assert.deepEqual(cancelled, [{ tag: 't1', code: 'ABORTED' }]);
  assert.equal(await withOptions(remote, { timeout: 10_000 }).wait(1, 'quick'), 'waited quick');
  assert.equal((await remote.cancelled()).length, 1, 'a call that finished in time was not cancelled');
  await pair.leakCheck();
});

test('aborting rejects ABORTED at once and the owner is told', async () => {
  const remote = serve('Rich/abort');
  const controller = new AbortController();
  const call = withOptions(remote, { signal: controller.signal }).wait(60_000, 'a1');
  // The call must be running at the owner before it is aborted, or there is nothing to tell.
  assert.equal(await remote.add(0, 0), 0);
  const started = Date.now();
  controller.abort();
  await assert.rejects(call, code('ABORTED'));
  assert.ok(Date.now() - started < 2_000);
  const cancelled = await waitFor(async () => {
    const list = await remote.cancelled();
    return list.length > 0 ? list : undefined;
  });
  assert.deepEqual(cancelled, [{ tag: 'a1', code: 'ABORTED' }]);
  // An already aborted signal never sends the call.
  await assert.rejects(withOptions(remote, { signal: controller.signal }).wait(60_000, 'a2'), code('ABORTED'));
  assert.equal(await remote.add(1, 1), 2);
  assert.deepEqual(
    (await remote.cancelled()).map((c) => c.tag),
    ['a1'],
  );
  await pair.leakCheck();
});

test('callbacks are called back at any depth and their results come home', async () => {
  const remote = serve('Rich/callbacks');
  const seen: number[] = [];
  const answers = await remote.tick(5, (i) => {
    seen.push(i);
    return `t${i}`;
  });
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  assert.deepEqual(answers, ['t0', 't1', 't2', 't3', 't4']);
  const deep = await remote.deep({
    a: { fn: async (x) => x * 2 },
    list: [0, { g: (s) => `${s}!` }],
  });
  assert.deepEqual(deep, [42, 'deep!']);
  await pair.leakCheck();
});

test('a stream delivers all its items in order, then the owner iterator finishes', async () => {
  const remote = serve('Stream/all');
  const items: number[] = [];
  for await (const item of await remote.numbers(1000, 'all')) items.push(item);
  assert.deepEqual(
    items,
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.equal(await remote.finallyRan('all'), true);
  const empty: number[] = [];
  for await (const item of await remote.numbers(0, 'empty')) empty.push(item);
  assert.deepEqual(empty, []);
  await pair.leakCheck();
});

test("break in the client's loop stops the owner's iterator: its finally runs", async () => {
  const remote = serve('Stream/break');
  const seen: number[] = [];
  for await (const item of await remote.numbers(1_000_000_000, 'brk')) {
    seen.push(item);
    if (item === 9) break;
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await waitFor(() => remote.finallyRan('brk'), 5_000, "the owner's finally");
  const produced = await remote.produced('brk');
  assert.ok(produced <= 10 + STREAM_WINDOW + STREAM_BATCH, `the producer stopped early (${produced} pulled)`);
  assert.equal(await remote.produced('brk'), produced, 'and stays stopped');
  assert.equal(await remote.add(1, 2), 3);
  await pair.leakCheck();
});

test("an error thrown by the owner's iterator ends the client's loop with REMOTE", async () => {
  const remote = serve('Stream/fail');
  const seen: number[] = [];
  await assert.rejects(
    async () => {
      for await (const item of await remote.numbersThenFail(3, 'ran dry')) seen.push(item);
    },
    (error: RuntableError) => {
      code('REMOTE')(error);
      assert.equal(error.remote?.name, 'RangeError');
      assert.equal(error.remote?.message, 'ran dry');
      assert.equal(error.remote?.code, 'E_STREAM');
      return true;
    },
  );
  assert.deepEqual(seen, [0, 1, 2], 'the items before the error all arrive');
  await pair.leakCheck();
});
