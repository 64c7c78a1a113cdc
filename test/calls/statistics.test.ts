// Per-object statistics: the histogram's buckets and percentiles on known durations, memory that
// stays fixed whatever the traffic, and then an owner process whose figures must match a known
// sequence of calls from this one (ok, REMOTE, NO_SUCH_METHOD, one-way, a method that waits).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { oneway, type Remote } from 'runtable';
import {
  BUCKETS,
  BUCKETS_PER_OCTAVE,
  bucketEdge,
  bucketOf,
  callStart,
  clockStale,
  MethodCounter,
  ObjectCounters,
  tally,
} from '../../src/calls/statistics.ts';
import { code, spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';
import { RawPeer } from '../raw-peer.ts';

const tables = tableForEachTest({ timeout: 20_000 });
/** One bucket's width: its upper edge over its lower. */
const WIDTH = 2 ** (1 / BUCKETS_PER_OCTAVE);

/** Whether `ms` is an upper bucket edge (or, when it is not, the exact maximum it was capped at). */
function isEdge(ms: number): boolean {
  const steps = Math.log2(ms * 1000) * BUCKETS_PER_OCTAVE;
  return Math.abs(steps - Math.round(steps)) < 1e-6;
}

test('a duration falls in the bucket whose edges hold it', () => {
  for (const ms of [0.001, 0.0015, 0.02, 0.5, 1, 3.7, 40, 250, 1000, 60_000, 3_600_000]) {
    const bucket = bucketOf(ms);
    const upper = bucketEdge(bucket);
    const lower = bucketEdge(bucket - 1);
    assert.ok(ms < upper * (1 + 1e-12), `${ms} ms is under the edge ${upper} of bucket ${bucket}`);
    assert.ok(ms >= lower * (1 - 1e-12), `${ms} ms is at or over the edge ${lower} below bucket ${bucket}`);
    assert.ok(upper / ms <= WIDTH * (1 + 1e-12), `${ms} ms: the edge ${upper} is within one bucket's width`);
  }
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(0.0004), 0);
  assert.equal(bucketOf(-3), 0, 'a clock step backwards lands in the first bucket');
  assert.equal(bucketOf(Number.NaN), 0);
  assert.equal(bucketOf(10 * 3_600_000), BUCKETS - 1, 'ten hours is past the last edge');
  assert.equal(bucketEdge(BUCKETS - 1), Number.POSITIVE_INFINITY);
});

test('a call served right after another starts at its end, and never at a reading from before the event loop waited', async () => {
  const counter = new MethodCounter();
  tally(counter, callStart(), 'ok');
  const chained = callStart();
  assert.equal(callStart(), chained, 'in the same run of JavaScript, the end of the last call counted');
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(callStart() > chained, 'after the event loop turned, a fresh reading');
  tally(counter, callStart(), 'ok');
  const end = callStart();
  clockStale();
  // Still the same run of JavaScript: only clockStale() can make the next start a fresh reading.
  while (performance.now() === end) {}
  assert.ok(callStart() > end, 'after clockStale(), a fresh reading');
  assert.equal(counter.calls, 2);
});

test('percentiles are the edge of the bucket holding the rank, never under it and never over the max', () => {
  const counter = new MethodCounter();
  // 90 calls of 2 ms, 9 of 30 ms, one of 500 ms: p50 is 2 ms, p90 2 ms, p99 30 ms, max 500 ms.
  for (let i = 0; i < 90; i++) counter.record('ok', 2);
  for (let i = 0; i < 9; i++) counter.record('REMOTE', 30);
  counter.record('TIMEOUT', 500);
  const figures = counter.figures();
  assert.equal(figures.calls, 100);
  assert.equal(figures.errors, 10);
  assert.deepEqual(figures.outcomes, { ok: 90, REMOTE: 9, TIMEOUT: 1 });
  for (const [name, truth] of [
    ['p50', 2],
    ['p90', 2],
    ['p99', 30],
  ] as const) {
    const reported = figures[name];
    assert.ok(reported >= truth && reported < truth * WIDTH, `${name} ${reported} is in [${truth}, ${truth * WIDTH})`);
    assert.ok(isEdge(reported), `${name} ${reported} is a bucket edge`);
  }
  assert.equal(figures.max, 500);
  // A single call: every percentile is capped at its exact duration.
  const one = new MethodCounter();
  one.record('ok', 7.25);
  assert.deepEqual([one.percentile(0.5), one.percentile(0.99), one.max], [7.25, 7.25, 7.25]);
  assert.deepEqual(new MethodCounter().figures(), {
    calls: 0,
    errors: 0,
    outcomes: {},
    p50: 0,
    p90: 0,
    p99: 0,
    max: 0,
  });
});

test('a million calls and a thousand unknown method names leave the memory as it was', () => {
  const counters = new ObjectCounters('Fixed/size', 1, ['a', 'b']);
  const a = counters.method('a');
  const buckets = a.buckets;
  for (let i = 0; i < 1_000_000; i++) counters.method('a').record(i % 7 === 0 ? 'REMOTE' : 'ok', (i % 5000) / 10);
  for (let i = 0; i < 1000; i++) counters.unknownMethod();
  assert.equal(counters.method('a'), a, 'one counter per method, made once');
  assert.equal(a.buckets, buckets, 'the same histogram, never replaced');
  assert.equal(a.buckets.length, BUCKETS, 'of the same size');
  const report = counters.report();
  assert.deepEqual(Object.keys(report.methods), ['a', 'b'], 'unknown names never become methods');
  assert.equal(report.methods.a?.calls, 1_000_000);
  assert.equal(report.methods.a?.outcomes.REMOTE, Math.ceil(1_000_000 / 7));
  assert.equal(report.methods.b?.calls, 0);
  assert.equal(report.total.calls, 1_001_000);
  assert.equal(report.total.outcomes.NO_SUCH_METHOD, 1000);
});

interface Service {
  echo(value: unknown): unknown;
  slow(ms: number): number;
  fail(message: string): never;
  count(): number;
  calls(): number;
  missing(): void;
}

test('an owner process counts a known sequence of calls: ok, REMOTE, NO_SUCH_METHOD, one-way, latency', async () => {
  const owner = spawnFixture('owner', ['Stats/counted', 'Stats/other'], tables.dir);
  await owner.waitForLine(/^ready/);
  const server: Remote<Service> = await tables.table.get<Service>('Stats/counted');
  const before = new Date();

  for (let i = 0; i < 20; i++) assert.equal(await server.echo(i), i);
  for (let i = 0; i < 3; i++) await assert.rejects(server.fail('no'), code('REMOTE'));
  for (let i = 0; i < 4; i++) await assert.rejects(server.missing(), code('NO_SUCH_METHOD'));
  for (let i = 0; i < 5; i++) await server.slow(40);
  for (let i = 0; i < 6; i++) oneway(server).count();
  // One-way calls are never answered: the owner's own count says when they have all run.
  await waitFor(async () => (await server.calls()) === 6, 10_000, 'the one-way calls to run');

  const stats = await tables.table.stats('Stats/counted');
  assert.equal(stats.moniker, 'Stats/counted');
  assert.equal(stats.pid, owner.pid);
  assert.ok(stats.since <= before, 'counting began at registration');
  assert.deepEqual(Object.keys(stats.methods).sort(), ['add', 'calls', 'count', 'echo', 'fail', 'pid', 'slow']);
  const { echo, fail, slow, count, add } = stats.methods;
  assert.deepEqual([echo?.calls, echo?.errors, echo?.outcomes], [20, 0, { ok: 20 }]);
  assert.deepEqual([fail?.calls, fail?.errors, fail?.outcomes], [3, 3, { REMOTE: 3 }]);
  assert.deepEqual([count?.calls, count?.outcomes], [6, { ok: 6 }], 'one-way calls are counted');
  assert.deepEqual([add?.calls, add?.p50, add?.max], [0, 0, 0], 'a method never called is listed with zeros');
  assert.equal(slow?.calls, 5);
  assert.ok(slow?.since instanceof Date);
  // Each slow call waited 40 ms: every percentile is in the bucket of 40 ms or above, and is a
  // bucket edge (or the exact maximum it was capped at).
  for (const name of ['p50', 'p90', 'p99'] as const) {
    const value = slow?.[name] as number;
    assert.ok(value >= 39, `slow ${name} ${value} ms is at least the 40 ms waited (less a timer's rounding)`);
    assert.ok(value <= (slow?.max as number), `slow ${name} is at most the max`);
    assert.ok(isEdge(value) || value === slow?.max, `slow ${name} ${value} is a bucket edge or the max`);
  }
  assert.ok((echo?.p50 as number) <= (echo?.max as number));
  // The totals: every method's calls plus the 4 that named no method (calls() counted as it ran).
  const callsCalls = stats.methods.calls?.calls as number;
  assert.equal(stats.total.calls, 20 + 3 + 4 + 5 + 6 + callsCalls);
  assert.equal(stats.total.errors, 3 + 4);
  assert.deepEqual(stats.total.outcomes, { ok: 20 + 5 + 6 + callsCalls, REMOTE: 3, NO_SUCH_METHOD: 4 });
  assert.equal(stats.total.max, slow?.max);
  assert.ok(stats.total.p99 >= 39, 'the slow calls are the top of the totals too');

  // Another object of the same owner has its own figures; listStats asks the owner once for both.
  const other = await tables.table.get<Service>('Stats/other');
  await other.echo('x');
  const listed = await tables.table.listStats('Stats/');
  assert.deepEqual(
    listed.map((item) => [item.moniker, item.pid, item.total.calls]),
    [
      ['Stats/counted', owner.pid, stats.total.calls],
      ['Stats/other', owner.pid, 1],
    ],
  );
  assert.deepEqual(await tables.table.listStats('Nothing/'), []);
});

test('stats of a moniker nobody holds is NOT_REGISTERED; a bad moniker is BAD_MONIKER', async () => {
  await assert.rejects(tables.table.stats('Stats/none'), code('NOT_REGISTERED'));
  await assert.rejects(tables.table.stats(''), code('BAD_MONIKER'));
  await assert.rejects(tables.table.listStats('\u0000'), code('BAD_MONIKER'));
});

test('an object registered in this process counts calls from another table; callbacks are left out', async () => {
  const reg = await tables.table.register('Stats/local', {
    twice: (callback: (n: number) => number) => callback(21),
  });
  const client = await tables.other();
  const remote = await client.get<{ twice(callback: (n: number) => number): number }>('Stats/local');
  assert.equal(await remote.twice((n) => n * 2), 42);
  const stats = await client.stats('Stats/local');
  assert.equal(stats.pid, process.pid);
  assert.deepEqual(Object.keys(stats.methods), ['twice']);
  assert.equal(stats.methods.twice?.calls, 1);
  assert.equal(stats.total.calls, 1, 'the callback into the caller is not a call on the registered object');
  // The statistics of the callback's side: the client registered nothing, so it holds none.
  await reg.revoke();
  await assert.rejects(client.stats('Stats/local'), code('NOT_REGISTERED'));
});

test('Statistics on the wire: by moniker or prefix, an empty answer for none, malformed ones refused', async () => {
  await tables.table.register('Stats/raw', { ping: () => 'pong' });
  await tables.table.register('Stats/raw2', { ping: () => 'pong' });
  const socket = fs.readdirSync(tables.dir).find((name) => name.startsWith(`o${process.pid}-`));
  assert.ok(socket, 'this process has an endpoint');
  const peer = await RawPeer.handshaken(path.join(tables.dir, socket));
  try {
    const byName = await peer.request({ kind: 75, id: 1, moniker: 'Stats/raw' });
    assert.equal(byName.kind, 40);
    const reports = byName.value as { moniker: string; object: number; methods: Record<string, unknown> }[];
    assert.deepEqual(
      reports.map((report) => [report.moniker, Object.keys(report.methods)]),
      [['Stats/raw', ['ping']]],
    );
    const byPrefix = await peer.request({ kind: 75, id: 2, prefix: 'Stats/' });
    assert.deepEqual(
      (byPrefix.value as { moniker: string }[]).map((report) => report.moniker),
      ['Stats/raw', 'Stats/raw2'],
    );
    assert.deepEqual((await peer.request({ kind: 75, id: 3, moniker: 'Stats/none' })).value, []);
    for (const [id, fields] of [
      [4, {}],
      [5, { moniker: 'Stats/raw', prefix: 'Stats/' }],
      [6, { moniker: 7 }],
    ] as const) {
      const failure = await peer.request({ kind: 75, id, ...fields });
      assert.deepEqual(
        [failure.kind, (failure.error as { code: string }).code],
        [41, 'PROTOCOL'],
        JSON.stringify(fields),
      );
    }
    // Refused requests fail alone: the connection still answers.
    assert.equal((await peer.request({ kind: 75, id: 7, prefix: '' })).kind, 40);
  } finally {
    peer.socket.destroy();
  }
});

test('thousands of calls, hundreds of invented method names: exact counts, and no method added', async () => {
  const owner = spawnFixture('owner', ['Stats/busy'], tables.dir);
  await owner.waitForLine(/^ready/);
  const server = await tables.table.get<Record<string, (...args: unknown[]) => Promise<unknown>>>('Stats/busy');
  const echo = server.echo as (value: unknown) => Promise<unknown>;
  for (let round = 0; round < 50; round++) await Promise.all(Array.from({ length: 100 }, (_, i) => echo(i)));
  const invented = Array.from({ length: 300 }, (_, i) => `invented${i}`);
  const refusals = await Promise.allSettled(invented.map((name) => (server[name] as () => Promise<unknown>)()));
  assert.ok(refusals.every((outcome) => outcome.status === 'rejected'));
  const stats = await tables.table.stats('Stats/busy');
  assert.deepEqual(Object.keys(stats.methods).sort(), ['add', 'calls', 'count', 'echo', 'fail', 'pid', 'slow']);
  assert.deepEqual([stats.methods.echo?.calls, stats.methods.echo?.errors], [5000, 0]);
  assert.deepEqual(stats.total.outcomes, { ok: 5000, NO_SUCH_METHOD: 300 });
  assert.ok((stats.methods.echo?.p50 as number) <= (stats.methods.echo?.p99 as number));
});
