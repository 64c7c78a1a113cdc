// Failed calls as a caller sees them: a stack through the line that made the call, the remote
// message as it was thrown, NO_SUCH_METHOD that lists what there is, aborts as the platform has
// them (AbortSignal.timeout is TIMEOUT, an abort is ABORTED named AbortError), and values that
// cannot travel refused before anything is sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { on, oneway, RuntableError, withOptions } from 'runtable';
import { spawnFixture, tableForEachTest } from '../helpers.ts';

interface Service {
  echo<T>(value: T): T;
  slow(ms: number): Promise<number>;
  fail(message: string, code?: string): never;
}

const t = tableForEachTest({ timeout: 20_000 });
const THIS_FILE = /caller-errors\.test\.ts:\d+/;

function isCode(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof RuntableError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

async function startOwner(moniker: string) {
  const owner = spawnFixture('owner', [moniker], t.dir);
  await owner.waitForLine(/^ready/);
  return owner;
}

/** The user's line: each failure's stack must run through this function. */
async function callerLine(call: () => Promise<unknown>): Promise<RuntableError> {
  try {
    await call();
  } catch (error) {
    return error as RuntableError;
  }
  throw new Error('the call did not fail');
}

test('a rejected call has a stack through the caller, for REMOTE, NO_SUCH_METHOD, TIMEOUT and OBJECT_GONE', async () => {
  const owner = await startOwner('Stack/a');
  const remote = await t.table.get<Service & { nothing(): Promise<void> }>('Stack/a');
  const failures = {
    REMOTE: await callerLine(() => remote.fail('boom', 'E_BOOM')),
    NO_SUCH_METHOD: await callerLine(() => remote.nothing()),
    TIMEOUT: await callerLine(() => withOptions(remote, { timeout: 50 }).slow(10_000)),
  };
  const inFlight = callerLine(() => remote.slow(60_000));
  // The call is on its way (answered or not) once a later one on the same connection comes back.
  await remote.echo(1);
  owner.child.kill('SIGKILL');
  const all = { ...failures, OBJECT_GONE: await inFlight };
  for (const [code, error] of Object.entries(all)) {
    assert.ok(error instanceof RuntableError, code);
    assert.equal(error.code, code);
    assert.match(error.stack ?? '', /callerLine/, `${code}: the stack names the calling function:\n${error.stack}`);
    assert.match(error.stack ?? '', THIS_FILE, `${code}: and its file`);
  }
  // The remote message as thrown; its name apart.
  assert.equal(all.REMOTE.message, 'boom');
  assert.equal(all.REMOTE.remote?.name, 'TypeError');
  assert.equal(all.REMOTE.remote?.code, 'E_BOOM');
  assert.equal(all.REMOTE.name, 'RuntableError');
});

test('NO_SUCH_METHOD names the moniker and the methods it has', async () => {
  await t.table.register('Methods/a', { greet: () => 'hi', add: (a: number, b: number) => a + b });
  const other = await t.other();
  const remote = (await other.get('Methods/a')) as unknown as Record<string, () => Promise<unknown>>;
  await assert.rejects((remote.grete as () => Promise<unknown>)(), (error: RuntableError) => {
    assert.equal(error.code, 'NO_SUCH_METHOD');
    assert.equal(error.message, 'Methods/a has no method "grete"; its methods: add, greet');
    return true;
  });
});

test('a callback that fails in the caller rejects in the owner with a stack through the owner’s line', async () => {
  let stack = '';
  await t.table.register('Callback/a', {
    async run(cb: () => Promise<void>) {
      const error = await callerLine(cb);
      stack = error.stack ?? '';
      return error.message;
    },
  });
  const other = await t.other();
  const remote = await other.get<{ run(cb: () => void): Promise<string> }>('Callback/a');
  const message = await remote.run(() => {
    throw new Error('from the callback');
  });
  assert.equal(message, 'from the callback');
  assert.match(stack, /callerLine/);
});

test('AbortSignal.timeout() rejects as TIMEOUT, a plain abort as ABORTED named AbortError, the reason as cause', async () => {
  await startOwner('Abort/a');
  const remote = await t.table.get<Service>('Abort/a');
  const timedOut = await callerLine(() => withOptions(remote, { signal: AbortSignal.timeout(50) }).slow(10_000));
  assert.ok(timedOut instanceof RuntableError);
  assert.equal(timedOut.code, 'TIMEOUT');
  assert.equal((timedOut.cause as Error).name, 'TimeoutError');
  assert.match(timedOut.stack ?? '', /callerLine/);

  const controller = new AbortController();
  const aborted = callerLine(() => withOptions(remote, { signal: controller.signal }).slow(10_000));
  await remote.echo(1);
  controller.abort();
  const error = await aborted;
  assert.ok(error instanceof RuntableError);
  assert.equal(error.code, 'ABORTED');
  assert.equal(error.name, 'AbortError');
  assert.equal(error.cause, controller.signal.reason);
  assert.equal((error.cause as Error).name, 'AbortError');

  const why = new AbortController();
  why.abort('changed my mind');
  await assert.rejects(withOptions(remote, { signal: why.signal }).slow(10_000), (early: RuntableError) => {
    assert.equal(early.code, 'ABORTED');
    assert.equal(early.cause, 'changed my mind');
    return true;
  });
  const late = AbortSignal.timeout(1);
  await new Promise((resolve) => late.addEventListener('abort', resolve, { once: true }));
  await assert.rejects(withOptions(remote, { signal: late }).slow(10_000), isCode('TIMEOUT'));
  assert.equal(await remote.echo('still here'), 'still here');
});

test('values that cannot travel are refused before anything is sent, naming the path and the type', async () => {
  const seen: unknown[] = [];
  const reg = await t.table.register('Values/a', {
    take: (value: unknown) => seen.push(value),
    give: () => ({ user: { session: new WeakMap() } }),
  });
  const other = await t.other();
  const remote = await other.get<{ take(value: unknown): number; give(): unknown }>('Values/a');
  await assert.rejects(remote.take({ user: { session: Promise.resolve('later') } }), (error: RuntableError) => {
    assert.equal(error.code, 'BAD_ARGUMENT');
    assert.match(error.message, /args\[0\]\.user\.session is a Promise, which cannot be sent: await it first/);
    return true;
  });
  const loop: Record<string, unknown> = {};
  loop.self = loop;
  await assert.rejects(remote.take(loop), /args\[0\]\.self is circular: it refers back to args\[0\]/);
  assert.throws(() => oneway(remote).take(new WeakSet()), isCode('BAD_ARGUMENT'), 'a one-way call refuses at once');
  assert.equal(await remote.take('fine'), 1);
  assert.deepEqual(seen, ['fine'], 'nothing refused reached the owner');
  // A result that cannot travel is the caller's error; the owner carries on.
  await assert.rejects(
    remote.give(),
    /^RuntableError: the result of give cannot be sent: value\.user\.session is a WeakMap/,
  );
  // So is an event argument, at the owner that emits it.
  const subscription = on(remote, 'news', () => {});
  await subscription.ready;
  assert.throws(() => reg.emit('news', Symbol('no')), isCode('BAD_ARGUMENT'));
  assert.equal(await remote.take('still fine'), 2);
});
