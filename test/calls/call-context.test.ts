// callContext() anywhere in the async flow of the method serving a call: after awaits, in
// helpers, in timers, in a callback a peer invoked; each call sees its own, and outside any call
// it is a BAD_ARGUMENT that says where it works.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CallContext, callContext, RuntableError, withOptions } from 'runtable';
import { tableForEachTest } from '../helpers.ts';

const t = tableForEachTest();

/** A helper the method calls: it finds the call without being handed anything. */
function callerPid(): number {
  return callContext().pid;
}

const seen = new Map<string, CallContext>();

const service = {
  async afterAwaits() {
    await null;
    await sleep(5);
    return callerPid();
  },
  inTimer() {
    return new Promise<number>((resolve) => setTimeout(() => resolve(callContext().pid), 5));
  },
  /** Waits, remembers its context under `tag`, and resolves when its caller gives up. */
  async waitForAbort(tag: string) {
    await sleep(1);
    const context = callContext();
    seen.set(tag, context);
    await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
    return 'aborted';
  },
  async callsBack(callback: () => Promise<number>) {
    return callback();
  },
  /** Takes its signal before it returns its promise, and waits for the caller to give up. */
  signalFirst() {
    const { signal } = callContext();
    tookSignal = signal;
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
  },
  /** Answers at once: the same signal each time it is read, not aborted. */
  sameSignal() {
    const first = callContext().signal;
    const second = callContext().signal;
    return first === second && !first.aborted;
  },
};

let tookSignal: AbortSignal | undefined;

test('callContext() works after awaits, in helpers and in timers of the method', async () => {
  await t.table.register('Ctx/a', service);
  const remote = await t.table.get<typeof service>('Ctx/a');
  assert.equal(await remote.afterAwaits(), process.pid);
  assert.equal(await remote.inTimer(), process.pid);
});

test('each call sees its own context, with its own signal, however their awaits interleave', async () => {
  await t.table.register('Ctx/b', service);
  const remote = await t.table.get<typeof service>('Ctx/b');
  const first = new AbortController();
  const second = new AbortController();
  const calls = [
    withOptions(remote, { signal: first.signal }).waitForAbort('first'),
    withOptions(remote, { signal: second.signal }).waitForAbort('second'),
  ];
  for (const call of calls) call.catch(() => {});
  while (seen.size < 2) await sleep(2);
  first.abort();
  await assert.rejects(calls[0] as Promise<string>, { code: 'ABORTED' });
  const firstSignal = seen.get('first')?.signal;
  const secondSignal = seen.get('second')?.signal;
  await new Promise<void>((resolve) =>
    firstSignal?.aborted ? resolve() : firstSignal?.addEventListener('abort', () => resolve()),
  );
  assert.notEqual(firstSignal, secondSignal);
  assert.equal(secondSignal?.aborted, false, "the other call's signal is untouched");
  second.abort();
  await assert.rejects(calls[1] as Promise<string>, { code: 'ABORTED' });
});

test('a cancel reaches the signal a method took before it returned, and a method answered at once keeps one signal', async () => {
  await t.table.register('Ctx/d', service);
  const remote = await t.table.get<typeof service>('Ctx/d');
  assert.equal(await remote.sameSignal(), true);
  const caller = new AbortController();
  const call = withOptions(remote, { signal: caller.signal }).signalFirst();
  call.catch(() => {});
  const deadline = Date.now() + 10_000;
  while (!tookSignal && Date.now() < deadline) await sleep(2);
  const signal = tookSignal as AbortSignal;
  assert.equal(signal.aborted, false);
  caller.abort();
  await assert.rejects(call, { code: 'ABORTED' });
  await new Promise<void>((resolve) =>
    signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve()),
  );
  assert.equal((signal.reason as RuntableError).code, 'ABORTED');
});

test('a callback a peer invokes has the context of that invocation, after an await too', async () => {
  await t.table.register('Ctx/c', service);
  const remote = await t.table.get<typeof service>('Ctx/c');
  const pid = await remote.callsBack(async () => {
    await sleep(1);
    return callContext().pid;
  });
  assert.equal(pid, process.pid);
});

test('outside any remote call, callContext() is BAD_ARGUMENT saying where it works', async () => {
  for (const attempt of [
    () => callContext(),
    async () => {
      await null;
      return callContext();
    },
  ]) {
    await assert.rejects(
      async () => attempt(),
      (error: unknown) => {
        assert.ok(error instanceof RuntableError);
        assert.equal(error.code, 'BAD_ARGUMENT');
        assert.match(error.message, /outside any remote call: call it from a registered method/);
        return true;
      },
    );
  }
});
