// table.monitor(): the calls of other processes, seen from a third, with the right pids and
// outcomes, one-way calls, stream ends and callbacks included; a prefix filters; an owner that
// registers after the monitor started is seen; values only when asked for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CallRecord, Table } from 'runtable';
import { MAX_MONITORS_PER_CONNECTION, ownerMonitors } from '../../src/calls/monitor-owner.ts';
import { Kind } from '../../src/wire/protocol.ts';
import { code, spawnFixture, tableForEachTest, waitFor } from '../helpers.ts';
import { RawPeer } from '../raw-peer.ts';

const t = tableForEachTest();

/** Collects what `table.monitor(prefix)` yields, in the background, until stop(). */
function collect(table: Table, prefix: string, values = false) {
  const stop = new AbortController();
  const records: CallRecord[] = [];
  const done = (async () => {
    for await (const record of table.monitor(prefix, { signal: stop.signal, values })) records.push(record);
  })();
  return { records, stop: () => stop.abort(), done };
}

/** Calls `moniker`.echo(marker) until the monitor shows it: then that owner reports to it. */
async function attached(table: Table, records: CallRecord[], moniker: string): Promise<void> {
  const remote = await table.get<{ echo(value: string): string }>(moniker);
  await waitFor(
    async () => {
      await remote.echo('probe');
      return records.some((r) => r.moniker === moniker && r.method === 'echo');
    },
    10_000,
    `the monitor to see ${moniker}`,
  );
}

test('calls from several client processes appear with their pids and outcomes; the prefix filters', async () => {
  const owner = spawnFixture('monitored', ['Mon/a', 'Other/b'], t.dir);
  await owner.waitForLine(/^ready/);
  const monitor = collect(t.table, 'Mon/');
  await attached(t.table, monitor.records, 'Mon/a');
  monitor.records.length = 0;

  const first = spawnFixture('monitor-client', ['Mon/a', 'echo', 'fail', 'nope'], t.dir);
  const second = spawnFixture('monitor-client', ['Mon/a', 'oneway', 'stream', 'callback'], t.dir);
  const elsewhere = spawnFixture('monitor-client', ['Other/b', 'echo'], t.dir);
  await Promise.all([first, second, elsewhere].map((client) => client.waitForLine(/^done/)));
  const of = (pid: number) => monitor.records.filter((r) => r.callerPid === pid);
  // Each client ends with echo('last'), answered after everything before it has been recorded.
  await waitFor(() => of(first.pid).length >= 4 && of(second.pid).length >= 4, 10_000, 'every record');

  const brief = (r: CallRecord) => [r.moniker, r.method, r.outcome, r.ownerPid, r.callerPid];
  assert.deepEqual(of(first.pid).map(brief), [
    ['Mon/a', 'echo', 'ok', owner.pid, first.pid],
    ['Mon/a', 'fail', 'REMOTE', owner.pid, first.pid],
    ['Mon/a', 'nope', 'NO_SUCH_METHOD', owner.pid, first.pid],
    ['Mon/a', 'echo', 'ok', owner.pid, first.pid],
  ]);
  const fromSecond = of(second.pid);
  assert.deepEqual(fromSecond.map(brief), [
    ['Mon/a', 'log', 'ok', owner.pid, second.pid],
    ['Mon/a', 'count', 'ok', owner.pid, second.pid],
    ['Mon/a', 'callMeBack', 'ok', owner.pid, second.pid],
    ['Mon/a', 'echo', 'ok', owner.pid, second.pid],
  ]);
  const [log, count] = fromSecond as [CallRecord, CallRecord];
  assert.equal(log.oneway, true);
  assert.equal(count.stream, true);
  assert.equal(count.items, 5);
  assert.ok(count.bytesOut > 0 && count.bytesIn > 0);
  // The callback ran in the second client, called by the owner, under the moniker it came through.
  const callback = monitor.records.find((r) => r.callback);
  assert.ok(callback);
  assert.deepEqual(brief(callback), ['Mon/a', '', 'ok', second.pid, owner.pid]);
  for (const record of monitor.records) {
    assert.equal(record.missed, 0);
    assert.ok(record.endedAt instanceof Date);
    assert.equal(typeof record.ms, 'number');
    assert.equal(record.args, undefined, 'no values unless asked for');
    assert.equal(record.result, undefined);
  }
  assert.ok(!monitor.records.some((r) => r.moniker.startsWith('Other/')), 'the prefix filters');

  // A loop left with break stops its part at the owner; the other monitor goes on.
  const remote = await t.table.get<{ ping(): string; backlog(): { monitors: number } }>('Mon/a');
  const leftEarly = t.table.monitor('Mon/');
  const pinging = setInterval(() => void remote.ping().catch(() => {}), 20);
  try {
    for await (const record of leftEarly) {
      assert.equal(record.moniker, 'Mon/a');
      break;
    }
  } finally {
    clearInterval(pinging);
  }
  await waitFor(async () => (await remote.backlog()).monitors === 1, 10_000, 'the owner to drop the loop left');
  monitor.stop();
  await monitor.done;
});

test('an owner registered after the monitor started is seen; values are shown when asked for, cut short', async () => {
  const monitor = collect(t.table, 'Late/', true);
  const owner = spawnFixture('monitored', ['Late/x'], t.dir);
  await owner.waitForLine(/^ready/);
  await attached(t.table, monitor.records, 'Late/x');
  const remote = await t.table.get<{ echo(value: unknown): unknown; fail(message: string): void }>('Late/x');
  await remote.echo({ long: 'y'.repeat(1000) });
  await assert.rejects(remote.fail('no luck'), code('REMOTE'));
  await waitFor(() => monitor.records.some((r) => r.method === 'fail'), 10_000, 'the failed call');
  const long = monitor.records.find((r) => r.method === 'echo' && r.args?.includes('yyy'));
  assert.ok(long, 'the echo with values');
  assert.equal(long.ownerPid, owner.pid);
  assert.equal(long.callerPid, process.pid);
  assert.ok((long.args?.length ?? 0) <= 256 && long.args?.endsWith('…'), long.args);
  assert.ok(long.result?.startsWith("{ long: 'yyy"), long.result);
  const failed = monitor.records.find((r) => r.method === 'fail');
  assert.equal(failed?.args, "'no luck'");
  assert.equal(failed?.result, 'RangeError: no luck');
  monitor.stop();
  await monitor.done;
  // Nobody monitors any more: the owner drops its part (the monitor said Unmonitor).
  const owned = remote as unknown as { backlog(): Promise<{ monitors: number }> };
  await waitFor(async () => (await owned.backlog()).monitors === 0, 10_000, 'the owner to forget the monitor');
});

test('the monitor ends when the table closes; options are checked at once', async () => {
  const other = await t.other();
  const monitor = collect(other, '');
  await other.close();
  await monitor.done;
  assert.throws(() => t.table.monitor('', { values: 1 as unknown as boolean }), code('BAD_ARGUMENT'));
  assert.throws(() => t.table.monitor('\u0001'), code('BAD_MONIKER'));
});

test('an owner checks each Monitor request, and pushes CallRecords on the connection that asked', async () => {
  const owner = spawnFixture('monitored', ['Raw/a'], t.dir);
  await owner.waitForLine(/^ready/);
  const broker = await RawPeer.handshaken(`${t.dir}/broker.sock`);
  const entry = (await broker.request({ kind: Kind.Lookup, id: 1, moniker: 'Raw/a' })).value as {
    endpoint: string;
    object: number;
  };
  broker.destroy();
  const peer = await RawPeer.handshaken(entry.endpoint);
  try {
    assert.equal((await peer.request({ kind: Kind.Monitor, id: 1, prefix: 'Raw/' })).value, true);
    const refused = await peer.request({ kind: Kind.Monitor, id: 2, prefix: 'bad\u0001' });
    assert.equal((refused.error as { code: string }).code, 'BAD_MONIKER');
    for (let id = 3; id < 2 + MAX_MONITORS_PER_CONNECTION; id++) {
      assert.equal((await peer.request({ kind: Kind.Monitor, id, prefix: 'Elsewhere/' })).value, true);
    }
    const over = await peer.request({ kind: Kind.Monitor, id: 100, prefix: '' });
    assert.equal((over.error as { code: string }).code, 'BAD_ARGUMENT');

    assert.equal(
      (await peer.request({ kind: Kind.Call, id: 200, target: entry.object, method: 'ping', args: [] })).value,
      'pong',
    );
    const batch = await peer.next((m) => m.kind === Kind.CallRecords);
    assert.equal(batch.monitor, 1, 'only the monitor whose prefix matches');
    const [record] = batch.records as Record<string, unknown>[];
    assert.equal(record?.moniker, 'Raw/a');
    assert.equal(record?.method, 'ping');
    assert.equal(record?.peerPid, process.pid);
    assert.equal(record?.outcome, 'ok');
    assert.ok((record?.bytesIn as number) > 0 && (record?.bytesOut as number) > 0);
    assert.equal(record?.args, undefined);

    for (let id = 1; id < 2 + MAX_MONITORS_PER_CONNECTION; id++) peer.send({ kind: Kind.Unmonitor, monitor: id });
    const backlog = await peer.request({ kind: Kind.Call, id: 201, target: entry.object, method: 'backlog', args: [] });
    assert.equal((backlog.value as { monitors: number }).monitors, 0);
  } finally {
    peer.destroy();
  }
});

test("an owner's records wait on a timer that never holds its process, and no timer is left once nobody monitors", async () => {
  const registration = await t.table.register('Timer/a', { echo: (value: string) => value });
  const other = await t.other();
  const monitor = collect(other, 'Timer/');
  await attached(other, monitor.records, 'Timer/a');
  const remote = await other.get<{ echo(value: string): string }>('Timer/a');
  // The owner is this process: right after a call, its record usually still waits for the flush.
  const timer = await waitFor(
    async () => {
      await remote.echo('x');
      return ownerMonitors.flushTimer;
    },
    10_000,
    'a record waiting for the flush',
  );
  assert.equal(timer.holdsProcess, false);
  await remote.echo('one more');
  monitor.stop();
  await monitor.done;
  await waitFor(() => ownerMonitors.size === 0, 10_000, 'the owner to forget the monitor');
  assert.equal(ownerMonitors.flushTimer, undefined);
  await registration.revoke();
});
