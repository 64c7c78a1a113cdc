// The diagnostics_channel events of calls, on both sides of the in-memory pair: start then end
// for an answered call, error with its code for a failing or refused one, one-way calls and
// reference calls, and nothing at all for a call that started while nobody was subscribed; then
// a caller against a real owner process, which sees the owner's pid and a timeout's code.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, test } from 'node:test';
import { oneway, ref, withOptions } from 'runtable';
import type { CallEvent } from '../../src/calls/diagnostics.ts';
import { code, tableForEachTest } from '../helpers.ts';
import { type MemoryPair, memoryPair } from './memory-pair.ts';
import { type RichService, startRich } from './rich-service.ts';

const tables = tableForEachTest({ timeout: 20_000 });

const NAMES = [
  'runtable:call:start',
  'runtable:call:end',
  'runtable:call:error',
  'runtable:serve:start',
  'runtable:serve:end',
  'runtable:serve:error',
] as const;

interface Seen {
  name: string;
  event: CallEvent;
  /** A copy as it was when published: the same object is filled in later. */
  copy: CallEvent;
}

/** Subscribes to every channel; returns what they saw, and the function that stops it. */
function watch(): { seen: Seen[]; next(name: string): Promise<Seen>; stop(): void } {
  const seen: Seen[] = [];
  const waiting: { name: string; resolve: (value: Seen) => void }[] = [];
  const handlers = NAMES.map((name) => {
    const handler = (message: unknown) => {
      const item = { name, event: message as CallEvent, copy: { ...(message as CallEvent) } };
      seen.push(item);
      for (const wait of waiting.filter((w) => w.name === name)) {
        waiting.splice(waiting.indexOf(wait), 1);
        wait.resolve(item);
      }
    };
    subscribe(name, handler);
    return [name, handler] as const;
  });
  return {
    seen,
    next: (name) => {
      const already = seen.find((item) => item.name === name);
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => waiting.push({ name, resolve }));
    },
    stop: () => {
      for (const [name, handler] of handlers) unsubscribe(name, handler);
    },
  };
}

interface Calc {
  add(a: number, b: number): number;
  fail(message: string): never;
  log(line: string): void;
  held(): Promise<number>;
  counter(): { inc(): number };
}

let pair: MemoryPair;
let watcher: ReturnType<typeof watch> | undefined;
let release: () => void = () => {};
const logged: string[] = [];

const calc = {
  add: (a: number, b: number) => a + b,
  fail: (message: string) => {
    throw new TypeError(message);
  },
  log: (line: string) => {
    logged.push(line);
  },
  held: () =>
    new Promise<number>((resolve) => {
      release = () => resolve(7);
    }),
  counter: () => {
    let n = 0;
    return ref({ inc: () => ++n });
  },
};

beforeEach(async () => {
  pair = await memoryPair();
});

afterEach(async () => {
  watcher?.stop();
  watcher = undefined;
  await pair.close();
});

function names(seen: Seen[]): string[] {
  return seen.map((item) => item.name);
}

test('an answered call publishes start and end on both sides, with its metadata and no values', async () => {
  const id = pair.register('Calc/a', calc);
  const remote = pair.get<Calc>('Calc/a', id);
  assert.equal(await remote.add(1, 1), 2); // resolved and connected, so start knows the target
  watcher = watch();
  assert.equal(await remote.add(2, 3), 5);
  assert.deepEqual(names(watcher.seen), [
    'runtable:call:start',
    'runtable:serve:start',
    'runtable:serve:end',
    'runtable:call:end',
  ]);
  const [callStart, serveStart, serveEnd, callEnd] = watcher.seen as [Seen, Seen, Seen, Seen];
  const metadata = {
    moniker: 'Calc/a',
    method: 'add',
    target: id,
    reference: false,
    peerPid: process.pid,
    oneway: false,
  };
  for (const item of [callStart, serveStart]) {
    const { startedAt, ...fields } = item.copy;
    assert.equal(typeof startedAt, 'number');
    assert.deepEqual(fields, { ...metadata, outcome: undefined, ms: undefined }, item.name);
  }
  // One object per call and side, from start to end, as undici's request is.
  assert.equal(callEnd.event, callStart.event);
  assert.equal(serveEnd.event, serveStart.event);
  for (const item of [callEnd, serveEnd]) {
    assert.equal(item.copy.outcome, 'ok');
    assert.ok(typeof item.copy.ms === 'number' && item.copy.ms >= 0, `${item.name} has a duration`);
    assert.deepEqual(Object.keys(item.copy).sort(), [...Object.keys(metadata), 'ms', 'outcome', 'startedAt'].sort());
  }
  await pair.leakCheck();
});

test('a method that throws publishes error with REMOTE on both sides; a missing method, NO_SUCH_METHOD', async () => {
  const id = pair.register('Calc/a', calc);
  const remote = pair.get<Calc>('Calc/a', id);
  watcher = watch();
  await assert.rejects(remote.fail('no luck'), code('REMOTE'));
  assert.deepEqual(names(watcher.seen), [
    'runtable:call:start',
    'runtable:serve:start',
    'runtable:serve:error',
    'runtable:call:error',
  ]);
  for (const item of watcher.seen.slice(2)) {
    assert.equal(item.copy.outcome, 'REMOTE', item.name);
    assert.equal(item.copy.method, 'fail');
    assert.equal(typeof item.copy.ms, 'number');
  }
  // Found before connecting: end says where the call went.
  assert.equal(watcher.seen[0]?.copy.target, 0);
  assert.equal(watcher.seen[3]?.copy.target, id);
  assert.equal(watcher.seen[3]?.copy.peerPid, process.pid);
  watcher.seen.length = 0;
  await assert.rejects((remote as unknown as { nope(): Promise<void> }).nope(), code('NO_SUCH_METHOD'));
  assert.deepEqual(
    watcher.seen.map((item) => [item.name, item.copy.outcome, item.copy.method]),
    [
      ['runtable:call:start', undefined, 'nope'],
      ['runtable:serve:start', undefined, 'nope'],
      ['runtable:serve:error', 'NO_SUCH_METHOD', 'nope'],
      ['runtable:call:error', 'NO_SUCH_METHOD', 'nope'],
    ],
  );
  await pair.leakCheck();
});

test('a one-way call publishes start and end once sent, and the owner its own when it has run', async () => {
  const id = pair.register('Calc/a', calc);
  const remote = pair.get<Calc>('Calc/a', id);
  await remote.add(0, 0);
  watcher = watch();
  oneway(remote).log('hello');
  const served = await watcher.next('runtable:serve:end');
  assert.deepEqual(logged, ['hello']);
  const client = watcher.seen.filter((item) => item.name.startsWith('runtable:call:'));
  assert.deepEqual(names(client), ['runtable:call:start', 'runtable:call:end']);
  assert.equal(client[1]?.copy.oneway, true);
  assert.equal(client[1]?.copy.outcome, 'ok');
  assert.equal(client[1]?.copy.target, id);
  assert.equal(served.copy.oneway, true);
  assert.equal(served.copy.moniker, 'Calc/a');
  assert.equal(served.copy.outcome, 'ok');
  await pair.leakCheck();
});

test('calls on a ref() object publish with reference set and no moniker', async () => {
  const id = pair.register('Calc/a', calc);
  const remote = pair.get<Calc>('Calc/a', id);
  const seen = watch();
  watcher = seen;
  // In a function of its own, so that the proxy can be collected and released before the leak check.
  await (async () => {
    const counter = (await remote.counter()) as unknown as { inc(): Promise<number> };
    seen.seen.length = 0;
    assert.equal(await counter.inc(), 1);
  })();
  assert.deepEqual(names(watcher.seen), [
    'runtable:call:start',
    'runtable:serve:start',
    'runtable:serve:end',
    'runtable:call:end',
  ]);
  for (const item of watcher.seen) {
    assert.equal(item.copy.reference, true, item.name);
    assert.equal(item.copy.method, 'inc');
    assert.equal(item.copy.moniker, undefined);
    assert.equal(item.copy.oneway, false);
  }
  await pair.leakCheck();
});

test('a call started while nobody listened publishes nothing, not even its end', async () => {
  const id = pair.register('Calc/a', calc);
  const remote = pair.get<Calc>('Calc/a', id);
  await remote.add(0, 0);
  const running = remote.held();
  // The owner is running it, so both sides have passed their start.
  await new Promise<void>((resolve) => {
    const poll = () => (pair.endpoint.sessions[0]?.outstanding.running === 1 ? resolve() : setImmediate(poll));
    poll();
  });
  watcher = watch();
  release();
  assert.equal(await running, 7);
  assert.deepEqual(watcher.seen, []);
  // And a call made now is seen whole.
  assert.equal(await remote.add(1, 2), 3);
  assert.equal(watcher.seen.length, 4);
  await pair.leakCheck();
});

test('a caller of a real owner process sees its moniker and pid, and a timeout as TIMEOUT', async () => {
  const owner = await startRich(tables.dir, 'Rich/diagnostics');
  const remote = await tables.table.get<RichService>('Rich/diagnostics');
  watcher = watch();
  assert.equal(await remote.add(2, 3), 5);
  await assert.rejects(withOptions(remote, { timeout: 50 }).wait(2_000, 'slow'), code('TIMEOUT'));
  assert.deepEqual(
    watcher.seen.map((item) => [item.name, item.copy.moniker, item.copy.method, item.copy.outcome]),
    [
      ['runtable:call:start', 'Rich/diagnostics', 'add', undefined],
      ['runtable:call:end', 'Rich/diagnostics', 'add', 'ok'],
      ['runtable:call:start', 'Rich/diagnostics', 'wait', undefined],
      ['runtable:call:error', 'Rich/diagnostics', 'wait', 'TIMEOUT'],
    ],
  );
  for (const item of watcher.seen.filter((seen) => seen.name !== 'runtable:call:start')) {
    assert.equal(item.copy.peerPid, owner.pid, item.name);
    assert.notEqual(item.copy.target, 0, item.name);
    assert.equal(item.copy.oneway, false);
  }
  assert.equal(typeof watcher.seen[3]?.copy.ms, 'number');
});
