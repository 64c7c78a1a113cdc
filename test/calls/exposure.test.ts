// Only the user's methods are exposed: what an object inherits from Node's built-in classes
// (EventEmitter, EventTarget, streams, native classes such as Map) is neither listed nor callable
// unless `expose` names it; an object with nothing to call is registered with a warning.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Readable, Transform } from 'node:stream';
import { test } from 'node:test';
import type { RuntableError } from 'runtable';
import { exposedMethods } from '../../src/calls/exposure.ts';
import { tableForEachTest } from '../helpers.ts';

const t = tableForEachTest();

class Build extends EventEmitter {
  start() {
    this.emit('started');
    return 'started';
  }
  status() {
    return 'idle';
  }
}

class NightlyBuild extends Build {
  schedule() {
    return 'tonight';
  }
}

test('methods inherited from built-in classes are not exposed; the user’s own are, at every level', () => {
  assert.deepEqual(exposedMethods(new Build()), ['start', 'status']);
  assert.deepEqual(exposedMethods(new NightlyBuild()), ['schedule', 'start', 'status']);
  class Feed extends Readable {
    override _read() {}
    latest() {
      return 1;
    }
  }
  assert.deepEqual(exposedMethods(new Feed()), ['latest']);
  class Upper extends Transform {
    mode() {
      return 'upper';
    }
  }
  assert.deepEqual(exposedMethods(new Upper()), ['mode']);
  class Target extends EventTarget {
    poke() {}
  }
  assert.deepEqual(exposedMethods(new Target()), ['poke']);
  class Registry extends Map<string, number> {
    names() {
      return [...this.keys()];
    }
  }
  assert.deepEqual(exposedMethods(new Registry()), ['names']);
  // Own function properties are the user's, whatever the object inherits.
  const emitter = Object.assign(new EventEmitter(), { ping: () => 'pong' });
  assert.deepEqual(exposedMethods(emitter), ['ping']);
  assert.deepEqual(exposedMethods({ a() {}, b: () => 1, c: 3 }), ['a', 'b']);
});

test('expose may name an inherited built-in method; never a hidden one', () => {
  assert.deepEqual(exposedMethods(new Build(), ['status', 'listenerCount']), ['listenerCount', 'status']);
  assert.throws(
    () => exposedMethods(new Build(), ['toString']),
    (error: RuntableError) => error.code === 'BAD_ARGUMENT' && /expose names "toString"/.test(error.message),
  );
  assert.throws(() => exposedMethods(new Build(), ['constructor']), { code: 'BAD_ARGUMENT' });
  assert.throws(() => exposedMethods(new Build(), ['nope']), { code: 'BAD_ARGUMENT' });
});

test('a registered EventEmitter subclass lists and serves only its own methods', async () => {
  const reg = await t.table.register('Expose/build', new NightlyBuild());
  assert.deepEqual(reg.entry.methods, ['schedule', 'start', 'status']);
  const [entry] = await t.table.list('Expose/');
  assert.deepEqual(entry?.methods, ['schedule', 'start', 'status']);
  const remote = await t.table.get<Record<string, (...args: unknown[]) => Promise<unknown>>>('Expose/build');
  assert.equal(await remote.start?.(), 'started');
  for (const name of ['emit', 'setMaxListeners', 'removeAllListeners', 'on', 'listenerCount']) {
    await assert.rejects(remote[name]?.('x') as Promise<unknown>, (error: RuntableError) => {
      assert.equal(error.code, 'NO_SUCH_METHOD', name);
      return true;
    });
  }
  const named = await t.table.register('Expose/named', new Build(), { expose: ['status', 'listenerCount'] });
  assert.deepEqual(named.entry.methods, ['listenerCount', 'status']);
  const narrow = await t.table.get<Build>('Expose/named');
  assert.equal(await narrow.listenerCount('started'), 0);
});

test('registering an object with nothing to call warns (RUNTABLE_NOTHING_EXPOSED); expose: [] says it is meant', async () => {
  const warnings: (Error & { code?: string })[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  try {
    const reg = await t.table.register('Expose/empty', {}, { metadata: { role: 'marker' } });
    await t.table.register('Expose/emitter', new EventEmitter());
    await t.table.register('Expose/meant', {}, { expose: [] });
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      warnings.map((w) => [w.name, w.code, /^(Expose\/\w+) exposes no methods/.exec(w.message)?.[1]]),
      [
        ['RuntableWarning', 'RUNTABLE_NOTHING_EXPOSED', 'Expose/empty'],
        ['RuntableWarning', 'RUNTABLE_NOTHING_EXPOSED', 'Expose/emitter'],
      ],
    );
    // Still registered: found, with its metadata, and its events reach subscribers.
    assert.deepEqual((await t.table.lookup('Expose/empty'))?.metadata, { role: 'marker' });
    assert.deepEqual(reg.entry.methods, []);
  } finally {
    process.off('warning', onWarning);
  }
});
