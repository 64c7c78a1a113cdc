// Calls through typed proxies to owners in other processes: results, errors, exposure,
// timeouts, owners dying mid-call, and proxies that follow their moniker to a new owner.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, RuntableError, withOptions } from 'runtable';
import { spawnFixture, tableForEachTest } from '../helpers.ts';

/** The shape of test/fixtures/owner.ts's service. */
interface Service {
  echo<T>(value: T): T;
  add(a: number, b: number): number;
  pid(): number;
  count(): number;
  slow(ms: number): Promise<number>;
  fail(message: string, code?: string): never;
  _secret(): string;
}

const t = tableForEachTest();

async function startOwner(...monikers: string[]) {
  const owner = spawnFixture('owner', monikers, t.dir);
  await owner.waitForLine(/^ready/);
  return owner;
}

test('a proxy calls methods in the owner process and returns their results', async () => {
  const owner = await startOwner('Calc/a');
  const calc = await t.table.get<Service>('Calc/a');
  assert.equal(await calc.add(2, 40), 42);
  assert.equal(await calc.pid(), owner.pid);
  assert.equal(await calc.slow(5), 5);
});

test('values round-trip exactly through a real call', async () => {
  await startOwner('Values/a');
  const remote = await t.table.get<Service>('Values/a');
  const values: unknown[] = [
    null,
    undefined,
    true,
    0,
    -1.5,
    'text ✓',
    [1, [2, undefined]],
    { a: 1, nested: { b: [null] }, gone: undefined },
    new Date(1_700_000_000_123),
    new Map<unknown, unknown>([
      [1, 'one'],
      ['k', new Map([['deep', 1]])],
    ]),
    new Set([1, 'two', 3n]),
    12345678901234567890n,
    -5n,
    new Uint8Array([0, 1, 255]),
    Buffer.from('buffer stays a buffer'),
    new Float64Array([1.5, -2]),
    new Int32Array([1, -2, 3]),
  ];
  for (const value of values) {
    const back = await remote.echo(value);
    assert.deepStrictEqual(back, value);
    if (value !== null && typeof value === 'object') assert.equal(back?.constructor, value.constructor);
  }
  const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => i % 251);
  assert.deepStrictEqual(await remote.echo(big), big);
});

test('an error thrown remotely arrives as REMOTE with its name, message, code and cause', async () => {
  await startOwner('Err/a');
  const remote = await t.table.get<Service>('Err/a');
  await assert.rejects(remote.fail('it broke', 'E_BROKE'), (error: RuntableError) => {
    assert.ok(error instanceof RuntableError);
    assert.equal(error.code, 'REMOTE');
    assert.equal(error.remote?.name, 'TypeError');
    assert.equal(error.remote?.message, 'it broke');
    assert.equal(error.remote?.code, 'E_BROKE');
    assert.equal(error.remote?.stack, undefined, 'no remote stack unless asked for');
    assert.equal(error.message, 'it broke', 'the remote message, without the name folded in');
    assert.equal((error.cause as Error).message, 'the inner reason');
    assert.equal((error.cause as Error).stack?.includes('owner.ts'), false);
    return true;
  });
});

test('the remote stack comes along in debug mode', async () => {
  await startOwner('Err/b');
  const debugTable = await connect({ dir: t.dir, debug: true });
  const remote = await debugTable.get<Service>('Err/b');
  await assert.rejects(remote.fail('with stack'), (error: RuntableError) => {
    assert.match(error.remote?.stack ?? '', /owner\.ts/);
    return true;
  });
  await debugTable.close();
});

test('only exposed methods can be called', async () => {
  await startOwner('Expose/a');
  const remote = await t.table.get<Record<string, () => Promise<unknown>>>('Expose/a');
  for (const name of ['_secret', 'missing']) {
    const method = remote[name];
    assert.equal(typeof method, 'function');
    await assert.rejects((method as () => Promise<unknown>)(), { code: 'NO_SUCH_METHOD' }, name);
  }
  // Object.prototype names are never exposed; the proxy answers them itself (the wire refusal
  // of such names is in bad-input-endpoint.test.ts).
  for (const name of ['constructor', 'hasOwnProperty', '__proto__']) assert.equal(remote[name], undefined, name);
  assert.equal(String(remote.toString()), '[Remote Expose/a]');
  assert.equal(remote.valueOf(), remote);
  const narrowed = await t.table.register('Expose/narrow', { a: () => 1, b: () => 2 }, { expose: ['a'] });
  assert.deepEqual(narrowed.entry.methods, ['a']);
  const proxy = await t.table.get<{ a(): number; b(): number }>('Expose/narrow');
  assert.equal(await proxy.a(), 1);
  await assert.rejects(proxy.b(), { code: 'NO_SUCH_METHOD' });
  await assert.rejects(t.table.register('Expose/bad', { a: () => 1 }, { expose: ['nope'] }), { code: 'BAD_ARGUMENT' });
});

test('class instances expose prototype methods, not Object.prototype or constructor', async () => {
  class Base {
    base() {
      return 'base';
    }
  }
  class Counter extends Base {
    n = 0;
    inc() {
      return ++this.n;
    }
    _hidden() {}
  }
  const reg = await t.table.register('Class/a', new Counter());
  assert.deepEqual(reg.entry.methods, ['base', 'inc']);
  const proxy = await t.table.get<Counter>('Class/a');
  assert.equal(await proxy.inc(), 1);
  assert.equal(await proxy.inc(), 2);
  assert.equal(await proxy.base(), 'base');
});

test('get of an unknown moniker fails with NOT_REGISTERED; a proxy is not a thenable', async () => {
  await assert.rejects(t.table.get('Nobody/here'), { code: 'NOT_REGISTERED' });
  await startOwner('Then/a');
  const proxy = await t.table.get<Service>('Then/a');
  assert.equal((proxy as unknown as { then?: unknown }).then, undefined);
  assert.equal(await proxy, proxy);
  assert.throws(() => {
    (proxy as unknown as { x: number }).x = 1;
  }, RuntableError);
});

test('calls time out with TIMEOUT, by default and per proxy, and abort with ABORTED', async () => {
  await startOwner('Slow/a');
  const quick = await connect({ dir: t.dir, timeout: 150 });
  const slow = await quick.get<Service>('Slow/a');
  await assert.rejects(slow.slow(5_000), { code: 'TIMEOUT' });
  assert.equal(await slow.add(1, 1), 2, 'the connection still works after a timeout');
  await quick.close();

  const remote = await t.table.get<Service>('Slow/a');
  await assert.rejects(withOptions(remote, { timeout: 50 }).slow(5_000), { code: 'TIMEOUT' });
  const controller = new AbortController();
  const call = withOptions(remote, { signal: controller.signal }).slow(5_000);
  controller.abort();
  await assert.rejects(call, { code: 'ABORTED' });
  assert.equal(await remote.add(3, 4), 7);
});

test('calls in flight to an owner killed with SIGKILL reject with OBJECT_GONE at once', async () => {
  const owner = await startOwner('Dying/a');
  const remote = await t.table.get<Service>('Dying/a');
  const calls = Array.from({ length: 20 }, () => remote.slow(60_000));
  await remote.add(0, 0);
  const started = Date.now();
  owner.child.kill('SIGKILL');
  const results = await Promise.allSettled(calls);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.equal((result.reason as RuntableError).code, 'OBJECT_GONE');
  }
  assert.ok(Date.now() - started < 5_000, 'they did not wait for a timeout');
  await assert.rejects(remote.add(1, 1), { code: 'NOT_REGISTERED' });
});

test('a proxy follows its moniker to a new owner after the old one goes', async () => {
  const first = await startOwner('Follow/a');
  const remote = await t.table.get<Service>('Follow/a');
  assert.equal(await remote.pid(), first.pid);
  first.child.kill('SIGKILL');
  await first.exited;
  const second = await startOwner('Follow/a');
  assert.equal(await remote.pid(), second.pid);

  // A revoke in a live process: the stale target is refused unexecuted and looked up again.
  const reg = await t.table.register('Follow/b', { who: () => 'first' });
  const proxy = await t.table.get<{ who(): string }>('Follow/b');
  assert.equal(await proxy.who(), 'first');
  await reg.revoke();
  await t.table.register('Follow/b', { who: () => 'second' });
  assert.equal(await proxy.who(), 'second');
});

test('many calls in flight on one connection each get their own answer', async () => {
  await startOwner('Many/a', 'Many/b');
  const a = await t.table.get<Service>('Many/a');
  const b = await t.table.get<Service>('Many/b');
  const results = await Promise.all(
    Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? a.add(i, 1) : b.echo(`v${i}`))),
  );
  results.forEach((result, i) => {
    assert.equal(result, i % 2 === 0 ? i + 1 : `v${i}`);
  });
  const counts = await Promise.all(Array.from({ length: 100 }, () => a.count()));
  assert.equal(new Set(counts).size, 100, 'every call ran exactly once');
});

test('an owner can call itself and a process can be owner and client at once', async () => {
  await t.table.register('Self/a', { twice: (n: number) => n * 2 });
  const self = await t.table.get<{ twice(n: number): number }>('Self/a');
  assert.equal(await self.twice(21), 42);
});
