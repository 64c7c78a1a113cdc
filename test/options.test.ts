// Options are checked at once: a timeout that is not a number of ms (0 or more, or Infinity for
// none), a wrong type, an unknown option name: BAD_ARGUMENT naming the option, before anything
// is sent or waited for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, RuntableError, withOptions } from 'runtable';
import { checkOptions, ms } from '../src/options.ts';
import { tableForEachTest } from './helpers.ts';

const t = tableForEachTest();

function badArgument(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RuntableError, `not a RuntableError: ${error}`);
    assert.equal(error.code, 'BAD_ARGUMENT');
    assert.match(error.message, pattern);
    return true;
  };
}

test('checkOptions: types, ranges, unknown names, undefined as absent', () => {
  const checks = { timeout: ms };
  checkOptions('f()', undefined, checks);
  checkOptions('f()', {}, checks);
  checkOptions('f()', { timeout: undefined }, checks);
  for (const timeout of [0, 1, 1.5, 30_000, 2 ** 40, Number.POSITIVE_INFINITY])
    checkOptions('f()', { timeout }, checks);
  for (const timeout of ['abc', '500', -1, Number.NaN, Number.NEGATIVE_INFINITY, null, {}, true, 10n]) {
    assert.throws(
      () => checkOptions('f()', { timeout }, checks),
      badArgument(/^f\(\) option timeout must be a number of ms, 0 or more \(Infinity for none\), not /),
    );
  }
  assert.throws(
    () => checkOptions('f()', { timout: 5 }, checks),
    badArgument(/f\(\) has no option "timout"; its options are timeout/),
  );
  assert.throws(() => checkOptions('f()', 'fast', checks), badArgument(/f\(\) takes an options object, not "fast"/));
  assert.throws(() => checkOptions('f()', null, checks), badArgument(/not null/));
  // Names of Object.prototype are unknown too, not mistaken for checks.
  assert.throws(() => checkOptions('f()', { toString: 1 }, checks), badArgument(/no option "toString"/));
});

test('connect() refuses a bad timeout, a wrong type or an unknown option before connecting', async () => {
  const dir = t.dir;
  await assert.rejects(
    connect({ dir, timeout: 'abc' as unknown as number }),
    badArgument(/option timeout must be a number of ms/),
  );
  await assert.rejects(connect({ dir, timeout: -5 }), badArgument(/not -5/));
  await assert.rejects(connect({ dir, timeout: Number.NaN }), badArgument(/not NaN/));
  await assert.rejects(
    connect({ dir, autoStart: 'no' as unknown as boolean }),
    badArgument(/autoStart must be true or false/),
  );
  await assert.rejects(
    connect({ dir, maxMessageBytes: 0 }),
    badArgument(/maxMessageBytes must be a whole number above 0/),
  );
  await assert.rejects(connect({ dir, maxPendingBytes: 1.5 }), badArgument(/maxPendingBytes/));
  await assert.rejects(connect({ dir, brokerIdleTimeout: -1 }), badArgument(/brokerIdleTimeout/));
  await assert.rejects(connect({ dir: 42 as unknown as string }), badArgument(/option dir must be a string/));
  await assert.rejects(connect({ dir, timout: 500 } as never), badArgument(/connect\(\) has no option "timout"/));
  await assert.rejects(connect(null as never), badArgument(/connect\(\) takes an options object/));
});

test('connect({ timeout: Infinity }) means no timeout, and works', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  try {
    const table = await connect({ dir: t.dir, timeout: Number.POSITIVE_INFINITY });
    await table.register('Opt/inf', { ping: () => 'pong' });
    const remote = await table.get<{ ping(): string }>('Opt/inf');
    assert.equal(await remote.ping(), 'pong');
    assert.equal(await withOptions(remote, { timeout: Number.POSITIVE_INFINITY }).ping(), 'pong');
    await table.close();
    // A timer of Infinity ms would have fired at once, with a TimeoutOverflowWarning.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('withOptions() refuses a bad timeout or signal at once, not as an instant TIMEOUT', async () => {
  await t.table.register('Opt/a', { ping: () => 'pong' });
  const remote = await t.table.get<{ ping(): string }>('Opt/a');
  assert.throws(
    () => withOptions(remote, { timeout: 'abc' as unknown as number }),
    badArgument(/withOptions\(\) option timeout must be a number of ms, 0 or more \(Infinity for none\), not "abc"/),
  );
  assert.throws(() => withOptions(remote, { timeout: -1 }), badArgument(/not -1/));
  assert.throws(
    () => withOptions(remote, { signal: 'stop' as unknown as AbortSignal }),
    badArgument(/signal must be an AbortSignal/),
  );
  assert.throws(
    () => withOptions(remote, { timeot: 5 } as never),
    badArgument(/withOptions\(\) has no option "timeot"; its options are timeout, signal/),
  );
  assert.equal(await withOptions(remote, { timeout: 5000 }).ping(), 'pong');
  assert.equal(await withOptions(remote, { timeout: undefined } as never).ping(), 'pong');
});

test('register() and watch() check their options', async () => {
  const object = { ping: () => 'pong' };
  const register = (options: unknown) => t.table.register('Opt/r', object, options as never);
  await assert.rejects(register({ replace: 'yes' }), badArgument(/register\(\) option replace must be true or false/));
  await assert.rejects(register({ queue: 1 }), badArgument(/queue must be true or false/));
  await assert.rejects(register({ expose: 'ping' }), badArgument(/expose must be an array of strings/));
  await assert.rejects(register({ expose: [1] }), badArgument(/expose must be an array of strings/));
  await assert.rejects(register({ signal: {} }), badArgument(/signal must be an AbortSignal/));
  await assert.rejects(register({ metadata: [1] }), badArgument(/metadata must be a plain object/));
  await assert.rejects(register({ metdata: {} }), badArgument(/register\(\) has no option "metdata"/));
  assert.equal(await t.table.lookup('Opt/r'), undefined);
  assert.throws(
    () => t.table.watch('Opt/', { signal: 5 } as never),
    badArgument(/watch\(\) option signal must be an AbortSignal/),
  );
  assert.throws(
    () => t.table.watch('Opt/', { sigal: new AbortController().signal } as never),
    badArgument(/watch\(\) has no option "sigal"/),
  );
});
