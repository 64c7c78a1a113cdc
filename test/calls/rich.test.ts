// Rich calls against a real owner process (test/fixtures/rich.ts): large one-way calls, a
// caller's connection that goes away mid-call, callbacks after the call that passed them,
// references, events, lifetimes, and a callback freed by garbage collection. One-way order,
// timeouts, aborts and callbacks at any depth need no process: rich-memory.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { connect, on, oneway, type Table, type TableEvent } from 'runtable';
import { code, tableForEachTest, waitFor } from '../helpers.ts';
import { type RichService, startRich } from './rich-service.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const tables = tableForEachTest({ timeout: 20_000 });
// --- one-way ---

test('a large one-way call keeps its place among the small ones around it', async () => {
  await startRich(tables.dir, 'Rich/oneway-large');
  const remote = await tables.table.get<RichService>('Rich/oneway-large');
  const fast = oneway(remote);
  const large = Buffer.alloc(1_000_000, 1); // travels in chunks
  for (let i = 0; i < 50; i++) fast.note(i);
  fast.note(large);
  for (let i = 50; i < 100; i++) fast.note(i);
  const notes = await waitFor(async () => {
    const got = await remote.notes();
    return got.length >= 101 ? got : undefined;
  });
  assert.equal(notes.length, 101);
  const position = notes.findIndex((note) => typeof note !== 'number');
  assert.equal(position, 50, 'the large note arrived where it was sent');
  assert.equal((notes[50] as Buffer).length, large.length);
  assert.deepEqual(
    notes.filter((note) => typeof note === 'number'),
    Array.from({ length: 100 }, (_, i) => i),
  );
});

test('a one-way call that throws is logged at the owner and no reply comes back', async () => {
  const owner = await startRich(tables.dir, 'Rich/oneway-fail');
  const remote = await tables.table.get<RichService>('Rich/oneway-fail');
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    assert.equal(oneway(remote).failOneway('boom-1234'), undefined);
    await waitFor(() => owner.stderr().includes('boom-1234'), 10_000, 'the warning on the owner stderr');
    assert.match(owner.stderr(), /one-way call failOneway failed: failOneway says boom-1234/);
    // The connection is fine and carried no Failure for the one-way call (it would be a
    // connection-level complaint, or an unmatched reply): a normal call answers normally.
    assert.equal(await remote.add(2, 3), 5);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

// --- timeouts and cancellation ---

test("the owner's signal fires when the caller's connection goes away mid-call", async () => {
  await startRich(tables.dir, 'Rich/caller-gone');
  const other = await tables.other();
  const remote = await other.get<RichService>('Rich/caller-gone');
  const call = remote.wait(60_000, 'g1');
  assert.equal(await remote.add(0, 0), 0, 'the call is running at the owner');
  await other.close();
  await assert.rejects(call, code('OBJECT_GONE'));
  const mine = await tables.table.get<RichService>('Rich/caller-gone');
  const cancelled = await waitFor(async () => {
    const list = await mine.cancelled();
    return list.length > 0 ? list : undefined;
  });
  assert.deepEqual(
    cancelled.map((c) => c.tag),
    ['g1'],
  );
});

// --- callbacks ---

test('a callback kept by the owner is called after the call that passed it returned', async () => {
  await startRich(tables.dir, 'Rich/kept');
  const remote = await tables.table.get<RichService>('Rich/kept');
  const calls: unknown[] = [];
  assert.equal(
    await remote.keep('k', (x) => {
      calls.push(x);
      return `got ${String(x)}`;
    }),
    'kept k',
  );
  assert.deepEqual(calls, [], 'not called while keep ran');
  assert.deepEqual(await remote.fire('k', 1), { ok: 'got 1' });
  assert.deepEqual(await remote.fire('k', 2), { ok: 'got 2' });
  // Still working later, as long as the connection lives.
  await remote.wait(50, 'later');
  assert.deepEqual(await remote.fire('k', 3), { ok: 'got 3' });
  assert.deepEqual(calls, [1, 2, 3]);
});

test("a kept callback fails cleanly once its sender's connection ends, and the owner goes on", async () => {
  await startRich(tables.dir, 'Rich/released');
  const other = await tables.other();
  const remote = await other.get<RichService>('Rich/released');
  let called = 0;
  await remote.keep('gone', () => ++called);
  const mine = await tables.table.get<RichService>('Rich/released');
  assert.deepEqual(await mine.fire('gone', 'x'), { ok: 1 });
  await other.close();
  const result = await mine.fire('gone', 'y');
  assert.deepEqual(result, { error: 'OBJECT_GONE' });
  assert.equal(called, 1);
  assert.equal(await mine.add(20, 22), 42, 'the owner goes on serving');
});

test('a callback is freed at its sender once the receiver drops it and collects it', async () => {
  await using owner = await connect({ dir: tables.dir });
  let kept: ((x: number) => Promise<number>) | undefined;
  await owner.register('Gc/a', {
    keep(cb: (x: number) => Promise<number>) {
      kept = cb;
    },
    call: (x: number) => (kept as (x: number) => Promise<number>)(x),
    drop() {
      kept = undefined;
    },
  });
  const client = await tables.other();
  const remote = await client.get<{ keep(cb: (x: number) => number): void; call(x: number): number; drop(): void }>(
    'Gc/a',
  );
  // The function exists only here and in the client's export table.
  const weak = await (async () => {
    const fn = (x: number) => x * 2;
    await remote.keep(fn);
    return new WeakRef(fn);
  })();
  assert.equal(await remote.call(4), 8);
  const collect = async () => {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  };
  for (let i = 0; i < 5; i++) await collect();
  assert.ok(weak.deref(), 'held by the export while the owner keeps the callback');
  assert.equal(await remote.call(5), 10);
  await remote.drop();
  await waitFor(
    async () => {
      await collect();
      return weak.deref() === undefined;
    },
    10_000,
    'the client to free its export of the callback',
  );
});

// --- references ---

test('ref() objects travel as proxies; their hidden methods are NO_SUCH_METHOD', async () => {
  await startRich(tables.dir, 'Rich/ref');
  const remote = await tables.table.get<RichService>('Rich/ref');
  const a = await remote.counter();
  const b = await remote.counter();
  assert.equal(await a.inc(), 1);
  assert.equal(await a.inc(5), 6);
  assert.equal(await b.inc(), 1, 'each ref is its own object');
  assert.equal(await a.value(), 6);
  const loose = a as unknown as Record<string, () => Promise<unknown>>;
  for (const name of ['_reset', 'missing']) {
    await assert.rejects((loose[name] as () => Promise<unknown>)(), code('NO_SUCH_METHOD'), name);
  }
  for (const name of ['constructor', 'hasOwnProperty']) assert.equal(loose[name], undefined, name);
  assert.match(String(a), /^\[Remote reference \d+ from pid \d+\]$/);
  assert.equal(await a.value(), 6, '_reset never ran');
  const sub = on(a, 'tick', () => {});
  await assert.rejects(sub.ready, code('BAD_ARGUMENT'));
});

test('a ref() proxy dropped right after a call with a large argument: the call still completes', async () => {
  await startRich(tables.dir, 'Rich/ref-gc');
  const remote = await tables.table.get<RichService>('Rich/ref-gc');
  // Nothing holds each proxy once its call is made; collections run while the arguments travel.
  const collector = setInterval(gc, 5);
  let results: PromiseSettledResult<number>[];
  try {
    results = await Promise.allSettled(
      Array.from({ length: 10 }, async () => (await remote.counter()).measure(Buffer.alloc(1_000_000))),
    );
  } finally {
    clearInterval(collector);
  }
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  assert.deepEqual(failures, [], 'no call on a reference fails because the proxy was collected meanwhile');
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : undefined)),
    Array(10).fill(1_000_000),
  );
});

// --- events ---

test('events reach subscribed connections only, until they unsubscribe', async () => {
  await startRich(tables.dir, 'Rich/events');
  const remote = await tables.table.get<RichService>('Rich/events');
  const ticks: number[] = [];
  const off = on(remote, 'tick', (i: number) => ticks.push(i));
  assert.equal(typeof off, 'function');
  await off.ready;
  // Another connection that calls but does not subscribe to 'tick' is not told.
  const other = await tables.other();
  const otherRemote = await other.get<RichService>('Rich/events');
  const otherTicks: unknown[] = [];
  const elsewhere = on(otherRemote, 'tock', (...args: unknown[]) => otherTicks.push(args));
  await elsewhere.ready;
  assert.deepEqual(await remote.emitTicks(3), [1, 1, 1], 'one connection told per emit');
  await waitFor(() => ticks.length >= 3, 5_000, 'three ticks');
  assert.deepEqual(ticks, [0, 1, 2]);
  assert.deepEqual(otherTicks, []);
  off();
  assert.deepEqual(await remote.emitTicks(2), [0, 0], 'nobody is told after unsubscribing');
  assert.deepEqual(ticks, [0, 1, 2]);
  off(); // twice is harmless
});

test('unsubscribing before the subscription is ready leaves none; two listeners share one', async () => {
  await startRich(tables.dir, 'Rich/events-early');
  const remote = await tables.table.get<RichService>('Rich/events-early');
  const early: number[] = [];
  const cancelledEarly = on(remote, 'tick', (i: number) => early.push(i));
  cancelledEarly();
  await cancelledEarly.ready;
  assert.deepEqual(await remote.emitTicks(1), [0], 'an unsubscribe before ready still unsubscribes');
  const a: number[] = [];
  const b: number[] = [];
  const offA = on(remote, 'tick', (i: number) => a.push(i));
  const offB = on(remote, 'tick', (i: number) => b.push(i));
  await Promise.all([offA.ready, offB.ready]);
  assert.deepEqual(await remote.emitTicks(1), [1], 'one connection, told once');
  await waitFor(() => a.length === 1 && b.length === 1, 5_000, 'both listeners');
  offA();
  assert.deepEqual(await remote.emitTicks(2), [1, 1], 'the other listener keeps the subscription');
  await waitFor(() => b.length === 3, 5_000, 'the remaining listener');
  assert.deepEqual([a, b], [[0], [0, 0, 1]]);
  offB();
  assert.deepEqual(await remote.emitTicks(1), [0]);
  assert.deepEqual(early, []);
});

test('subscriptions end with their connection', async () => {
  await startRich(tables.dir, 'Rich/events-end');
  const remote = await tables.table.get<RichService>('Rich/events-end');
  const mine = on(remote, 'tick', () => {});
  await mine.ready;
  const other = await tables.other();
  const theirs = on(await other.get<RichService>('Rich/events-end'), 'tick', () => {});
  await theirs.ready;
  assert.deepEqual(await remote.emitTicks(1), [2]);
  await other.close();
  await waitFor(async () => (await remote.emitTicks(1))[0] === 1, 5_000, 'the closed subscriber to be dropped');
  mine();
});

test('event names must be strings, on both ends', async () => {
  await startRich(tables.dir, 'Rich/events-bad');
  const remote = await tables.table.get<RichService>('Rich/events-bad');
  assert.throws(() => on(remote, 42 as unknown as string, () => {}), code('BAD_ARGUMENT'));
  const reg = await tables.table.register('Rich/in-process', { f() {} });
  assert.throws(() => reg.emit(42 as unknown as string), code('BAD_ARGUMENT'));
  assert.equal(reg.emit('nobody-listens'), 0);
});

// --- lifetimes ---

test('await using closes a table and revokes a registration at the end of the block', async () => {
  let inner: Table | undefined;
  {
    await using t = await connect({ dir: tables.dir });
    await using reg = await t.register('Life/a', { f: () => 1 });
    inner = t;
    assert.equal(reg.active, true);
    assert.equal(await tables.table.isRunning('Life/a'), true);
    assert.equal(await (await tables.table.get<{ f(): number }>('Life/a')).f(), 1);
  }
  assert.equal(await tables.table.isRunning('Life/a'), false);
  await assert.rejects(inner.list(''), code('TABLE_UNAVAILABLE'));
  {
    await using reg = await tables.table.register('Life/b', { f: () => 2 });
    assert.equal(reg.active, true);
  }
  assert.equal(await tables.table.isRunning('Life/b'), false, 'the registration alone was revoked');
  assert.equal((await tables.table.list('')).length, 0);
});

test("reg.touch() in the owner moves changedAt and watchers see 'changed'", async () => {
  await startRich(tables.dir, 'Rich/touch');
  const controller = new AbortController();
  const events: TableEvent[] = [];
  const watching = (async () => {
    for await (const event of tables.table.watch('Rich/', { signal: controller.signal })) events.push(event);
  })().catch(() => {});
  await waitFor(() => events.length >= 1, 5_000, 'the current entry');
  const first = events[0];
  assert.equal(first?.type, 'registered');
  const remote = await tables.table.get<RichService>('Rich/touch');
  const changedAt = await remote.touchMe({ step: 2 });
  await waitFor(() => events.length >= 2, 5_000, "a 'changed' event");
  const changed = events[1];
  assert.equal(changed?.type, 'changed');
  assert.equal(changed?.entry.moniker, 'Rich/touch');
  assert.deepEqual(changed?.entry.metadata, { step: 2 });
  assert.deepEqual(changed?.entry.changedAt, changedAt);
  assert.ok((changed?.entry.changedAt.getTime() ?? 0) >= (first?.entry.changedAt.getTime() ?? Infinity));
  assert.deepEqual(changed?.entry.registeredAt, first?.entry.registeredAt);
  controller.abort();
  await watching;
});
