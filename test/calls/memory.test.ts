// The call machinery in one process, over the in-memory transport pair: calls and their
// refusals, callbacks and ref() objects and their release, streams with backpressure and an
// early break, events, messages large enough to travel in chunks, a fence that holds one side's
// frames, and a connection that drops. Each test ends with the pair's leak check.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { callContext, on, ref, withOptions } from 'runtable';
import { STREAM_WINDOW } from '../../src/calls/streams.ts';
import { CHUNK_BYTES } from '../../src/wire/chunks.ts';
import { code } from '../helpers.ts';
import { type MemoryPair, memoryPair } from './memory-pair.ts';

let pair: MemoryPair;

beforeEach(async () => {
  pair = await memoryPair();
});

afterEach(async () => {
  await pair.close();
});

interface Calc {
  add(a: number, b: number): number;
  fail(message: string): never;
}

const calc = {
  add: (a: number, b: number) => a + b,
  fail: (message: string) => {
    throw new TypeError(message);
  },
};

test('a call is answered, a throw is REMOTE with its message, and refusals name what is missing', async () => {
  const id = pair.register('Calc/a', calc);
  const remote = pair.get<Calc>('Calc/a', id);
  assert.equal(await remote.add(2, 3), 5);
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => remote.add(i, i)));
  assert.deepEqual(
    results,
    Array.from({ length: 50 }, (_, i) => 2 * i),
  );
  await assert.rejects(remote.fail('no luck'), (error: unknown) => {
    code('REMOTE')(error);
    assert.match((error as Error).message, /no luck/);
    return true;
  });
  await assert.rejects((remote as unknown as { nope(): Promise<void> }).nope(), code('NO_SUCH_METHOD'));
  pair.endpoint.remove(id);
  await assert.rejects(remote.add(1, 1), code('NOT_REGISTERED'));
  await pair.leakCheck();
});

test('a callback passed as an argument is called back, and released on both sides once collected', async () => {
  const id = pair.register('Ticker/a', {
    async tick(times: number, callback: (n: number) => Promise<number>) {
      let sum = 0;
      for (let n = 1; n <= times; n++) sum += await callback(n);
      return sum;
    },
  });
  const remote = pair.get<{ tick(times: number, callback: (n: number) => number): Promise<number> }>('Ticker/a', id);
  const seen: number[] = [];
  assert.equal(
    await remote.tick(3, (n) => {
      seen.push(n);
      return n * 10;
    }),
    60,
  );
  assert.deepEqual(seen, [1, 2, 3]);
  await pair.leakCheck();
});

test('a ref() object handed back is called through its reference, and released once collected', async () => {
  class Counter {
    count = 0;
    increment() {
      return ++this.count;
    }
  }
  const id = pair.register('Counters/a', { make: () => ref(new Counter()) });
  const remote = pair.get<{ make(): { increment(): Promise<number> } }>('Counters/a', id);
  // In a function of its own, so that nothing here holds the stand-in once it returns.
  await (async () => {
    const counter = (await remote.make()) as { increment(): Promise<number> };
    assert.equal(await counter.increment(), 1);
    assert.equal(await counter.increment(), 2);
  })();
  await pair.leakCheck();
});

test('a stream arrives in order past its credit window, and a break stops the producer', async () => {
  let finished = 0;
  const id = pair.register('Numbers/a', {
    async *count(to: number) {
      try {
        for (let n = 0; n < to; n++) yield n;
      } finally {
        finished++;
      }
    },
  });
  const remote = pair.get<{ count(to: number): AsyncIterable<number> }>('Numbers/a', id);
  const all: number[] = [];
  for await (const n of await remote.count(STREAM_WINDOW * 3)) all.push(n);
  assert.deepEqual(
    all,
    Array.from({ length: STREAM_WINDOW * 3 }, (_, n) => n),
  );
  let taken = 0;
  for await (const _ of await remote.count(1_000_000)) {
    if (++taken === 10) break;
  }
  const deadline = Date.now() + 5_000;
  while (finished < 2 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(finished, 2, "the producer's finally ran for both streams");
  await pair.leakCheck();
});

test('a message larger than a frame travels in chunks, and one over maxMessageBytes fails that call alone', async () => {
  await pair.close();
  pair = await memoryPair({ limits: { maxMessageBytes: 4 * 1024 * 1024 } });
  const id = pair.register('Echo/a', {
    echo: (bytes: Uint8Array) => bytes,
    length: (bytes: Uint8Array) => bytes.length,
  });
  const remote = pair.get<{ echo(bytes: Uint8Array): Promise<Uint8Array>; length(bytes: Uint8Array): Promise<number> }>(
    'Echo/a',
    id,
  );
  const big = new Uint8Array(CHUNK_BYTES * 40 + 7).map((_, i) => i % 251);
  const back = await remote.echo(big);
  assert.equal(back.length, big.length);
  assert.deepEqual(Buffer.from(back), Buffer.from(big));
  await assert.rejects(remote.length(new Uint8Array(5 * 1024 * 1024)), code('FRAME_TOO_LARGE'));
  assert.equal(await remote.length(new Uint8Array(10)), 10, 'the connection still serves calls');
  await pair.leakCheck();
});

test('events reach a subscriber until it unsubscribes', async () => {
  const id = pair.register('Clock/a', { now: () => 1 });
  const remote = pair.get<{ now(): number }>('Clock/a', id);
  const heard: unknown[] = [];
  const off = on(remote, 'tick', (...args: unknown[]) => heard.push(args));
  await off.ready;
  assert.equal(pair.endpoint.emit(id, 'tick', [1, 'a']), 1);
  assert.equal(pair.endpoint.emit(id, 'other', []), 0);
  assert.equal(await remote.now(), 1, 'a call after the event: the event arrived first');
  assert.deepEqual(heard, [[1, 'a']]);
  off();
  const deadline = Date.now() + 5_000;
  while (pair.endpoint.emit(id, 'tick', [2]) > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(pair.endpoint.emit(id, 'tick', [3]), 0, 'the owner let go of the subscription');
  await pair.leakCheck();
});

test("a fence holds the client's frames: nothing runs until it lifts, then all of it, in order", async () => {
  const order: number[] = [];
  const id = pair.register('Log/a', { note: (n: number) => order.push(n) });
  const remote = pair.get<{ note(n: number): number }>('Log/a', id);
  await remote.note(0);
  const client = pair.network.transports[0];
  assert.ok(client, 'the client end of the pair');
  const lift = client.fence();
  const calls = [remote.note(1), remote.note(2), remote.note(3)];
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, [0], 'nothing crossed while fenced');
  assert.ok(client.pendingBytes > 0, 'the calls wait in the fenced side');
  lift();
  assert.deepEqual(await Promise.all(calls), [2, 3, 4]);
  assert.deepEqual(order, [0, 1, 2, 3]);
  await pair.leakCheck();
});

test('a call that times out is cancelled at the owner: its signal aborts and nothing is left running', async () => {
  let aborted = false;
  const id = pair.register('Waiter/a', {
    wait: () => {
      const { signal } = callContext();
      return new Promise<string>((resolve) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          resolve('stopped');
        });
      });
    },
  });
  const remote = pair.get<{ wait(): Promise<string> }>('Waiter/a', id);
  await assert.rejects(withOptions(remote, { timeout: 50 }).wait(), code('TIMEOUT'));
  const deadline = Date.now() + 5_000;
  while (!aborted && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(aborted, true, "the Cancel reached the owner and aborted the method's signal");
  await pair.leakCheck();
});

test('when the owner drops the connection, calls in flight fail with OBJECT_GONE and both sides are clear', async () => {
  let release: () => void = () => {};
  const id = pair.register('Hang/a', {
    hang: () =>
      new Promise<void>((resolve) => {
        release = resolve;
      }),
  });
  const remote = pair.get<{ hang(): Promise<void> }>('Hang/a', id);
  const hanging = remote.hang();
  const client = await pair.client();
  const deadline = Date.now() + 5_000;
  while (pair.endpoint.sessions[0]?.outstanding.running !== 1 && Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  const [owner] = pair.endpoint.sessions;
  assert.ok(owner, 'the owner side of the connection');
  owner.connection.close();
  await assert.rejects(hanging, code('OBJECT_GONE'));
  release();
  assert.equal((await client.whenClosed).code, 'OBJECT_GONE');
  for (const side of [owner, client]) {
    assert.equal(side.closed, true);
    assert.deepEqual(
      Object.entries(side.outstanding).filter(([, count]) => count !== 0),
      [],
      'a closed session holds nothing',
    );
  }
});
